/**
 * fs spans exist only inside a traced operation: the fixture reads files at
 * startup (sync, callback and promise forms) and none of that is exported;
 * the same three forms inside a request are children of its SERVER span.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../harness/fixture';
import { one, startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { send, startDownstream, type Downstream } from './helpers';
import { withServer } from './run-server';

let rx: OtlpReceiver;
let ds: Downstream;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  ds = await startDownstream();
});
afterAll(async () => {
  await ds.close();
  await rx.close();
});

describe.each(VARIANTS)('fs (%s)', (ext) => {
  it('makes spans for callback, promise and sync calls under a request, and none for startup reads', async () => {
    const service = `fs-${ext}`;
    const run = await withServer(rx, { ext, service, env: { DOWNSTREAM: ds.url } }, async (base) => {
      expect((await send(`${base}/work`)).status).toBe(200);
    });
    const server = one(run.spans, 'GET /work');
    const fs = run.spans.filter((s) => s.scope.name === '@opentelemetry/instrumentation-fs');
    // Exactly the handler's three calls: nothing from the startup reads, nothing from the agent
    // loading the fetch instrumentation in the middle of this request.
    expect(fs.map((s) => s.name).sort()).toEqual(['fs readFile', 'fs unlinkSync', 'fs writeFile']);
    for (const s of fs) {
      expect(s.kind).toBe('INTERNAL');
      expect(s.traceId).toBe(server.traceId);
      expect(s.parentSpanId, `${s.name} is a child of the request`).toBe(server.spanId);
      expect(s.status.code).toBe('UNSET');
    }
    // The only roots are the two requests.
    expect(
      run.spans
        .filter((s) => s.parentSpanId === '')
        .map((s) => s.name)
        .sort(),
    ).toEqual(['GET /work', 'POST /quit']);
  });
});
