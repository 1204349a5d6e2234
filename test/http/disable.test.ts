/**
 * OTEL_NODE_DISABLED_INSTRUMENTATIONS removes exactly one module's spans.
 * One request (GET /work) uses fs (three forms), node:http as client and
 * fetch; each run disables one of them and is compared with the full run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { send, startDownstream, traceparent, type Downstream } from './helpers';
import { withServer } from './run-server';

const HTTP = '@x/otel-agent/http';
const UNDICI = '@x/otel-agent/undici';
const FS = '@opentelemetry/instrumentation-fs';

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

const label = (s: RecvSpan): string => `${s.scope.name} ${s.kind} ${s.name}`;

describe.each(VARIANTS)('OTEL_NODE_DISABLED_INSTRUMENTATIONS (%s)', (ext) => {
  async function work(service: string, disabled?: string): Promise<RecvSpan[]> {
    ds.seen.length = 0;
    const run = await withServer(rx, { ext, service, env: { DOWNSTREAM: ds.url, OTEL_NODE_DISABLED_INSTRUMENTATIONS: disabled } }, async (base) => {
      // The app works the same whatever is disabled.
      expect(JSON.parse((await send(`${base}/work`)).body)).toEqual({ viaHttp: 200, viaFetch: 200 });
    });
    return run.spans;
  }

  let all: string[];
  beforeAll(async () => {
    all = (await work(`dis-none-${ext}`)).map(label).sort();
    expect(all).toEqual(
      [
        `${HTTP} SERVER GET /work`,
        `${HTTP} SERVER POST /quit`,
        `${HTTP} CLIENT GET ${ds.url}/via-http`,
        `${UNDICI} CLIENT GET ${ds.url}/via-fetch`,
        `${FS} INTERNAL fs readFile`,
        `${FS} INTERNAL fs writeFile`,
        `${FS} INTERNAL fs unlinkSync`,
      ].sort(),
    );
  });

  it('=fs removes the fs spans and nothing else', async () => {
    const spans = await work(`dis-fs-${ext}`, 'fs');
    expect(spans.map(label).sort()).toEqual(all.filter((l) => !l.startsWith(FS)));
  });

  it('=undici removes the fetch CLIENT span and its propagation, nothing else', async () => {
    const spans = await work(`dis-undici-${ext}`, 'undici');
    expect(spans.map(label).sort()).toEqual(all.filter((l) => !l.startsWith(UNDICI)));
    expect(ds.to('/via-fetch')[0]!.headers.traceparent).toBeUndefined();
    expect(ds.to('/via-http')[0]!.headers.traceparent).toBeDefined();
  });

  it('=http removes the SERVER and http CLIENT spans; fetch still traced (fs spans go too: they need a parent)', async () => {
    const spans = await work(`dis-http-${ext}`, 'http');
    expect(spans.map(label)).toEqual([`${UNDICI} CLIENT GET ${ds.url}/via-fetch`]);
    // With no SERVER span the fetch call starts its own trace, and still propagates it.
    expect(spans[0]!.parentSpanId).toBe('');
    expect(traceparent(ds.to('/via-fetch')[0]!.headers.traceparent).parentId).toBe(spans[0]!.spanId);
    expect(ds.to('/via-http')[0]!.headers.traceparent).toBeUndefined();
  });
});
