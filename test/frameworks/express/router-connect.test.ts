/**
 * The standalone `router` package (with finalhandler) and connect 3 apps: router names the SERVER
 * span by its nested template like Express 5 does; connect has no routes, so its spans keep the
 * path guess, but a handler's error is recorded once when the answer is a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../../harness/fixture';
import { one, startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../../harness/otlp-receiver';
import { send } from '../../http/helpers';
import { withApp } from '../run-app';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

function expectError(s: RecvSpan, type: string, status: number): void {
  expect(s.kind).toBe('SERVER');
  expect(s.attributes['http.response.status_code']).toBe(status);
  expect(s.status.code).toBe('ERROR');
  expect(s.attributes['error.type']).toBe(type);
  expect(s.events.filter((e) => e.name === 'exception')).toHaveLength(1);
}

describe.each(VARIANTS)('router 2 standalone (%s)', (ext) => {
  it('names the SERVER span by the nested template and records a thrown error', async () => {
    const run = await withApp(rx, { fixture: `frameworks/router/app.${ext}`, service: `router-${ext}` }, async (base) => {
      expect((await send(`${base}/shops/acme/items/widget`)).body).toBe('acme/widget');
      expect((await send(`${base}/boom`)).status).toBe(500);
      expect((await send(`${base}/nothing/here`)).status).toBe(404);
    });
    const item = one(run.spans, 'GET /shops/:shop/items/:item');
    expect(item.attributes['http.route']).toBe('/shops/:shop/items/:item');
    expectError(one(run.spans, 'GET /boom'), 'TypeError', 500);
    expect(one(run.spans, 'GET').attributes['http.response.status_code']).toBe(404);
    for (const s of run.spans) expect(s.name).not.toMatch(/acme|widget|nothing/);
  });
});

describe.each(VARIANTS)('connect 3 (%s)', (ext) => {
  it('records the error of a throwing handler (finalhandler 500) and of one the error middleware answers 503', async () => {
    const run = await withApp(rx, { fixture: `frameworks/connect/app.${ext}`, service: `connect-${ext}` }, async (base) => {
      expect((await send(`${base}/hello`)).status).toBe(200);
      expect((await send(`${base}/boom`)).status).toBe(500);
      expect((await send(`${base}/api/x`)).status).toBe(503);
    });
    expect(one(run.spans, 'GET /hello').attributes).not.toHaveProperty('http.route');
    expectError(one(run.spans, 'GET /boom'), 'TypeError', 500);
    expectError(one(run.spans, 'GET /api/x'), 'UpstreamError', 503);
  });
});
