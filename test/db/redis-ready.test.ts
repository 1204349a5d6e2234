/**
 * A command sent before the connection is ready makes one span, and the
 * client's own connection work (HELLO, AUTH, SELECT, CLIENT SETNAME / SETINFO,
 * the INFO ready check, the offline-queue replay, ioredis' re-SELECT after a
 * reconnect) makes none: the spans are exactly the commands the app issued.
 * ioredis 6 and node-redis 6 are the current majors; node-redis 4 is `redis4`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { expectNowhere, expectOk, isDb, requestSpans, secret, spansOf } from './helpers';
import { requireServer } from '../harness/servers';

const available = await requireServer('redis');

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

/** What each fixture run asked the client for, in order. */
const ASKED: Record<string, string[]> = {
  // SELECT 3 and the GET after the reconnect are the app's; the SELECT that restores db 3 is ioredis'.
  ioredis: ['SET', 'GET', 'DEL', 'SELECT', 'GET'],
  redis: ['redis-connect', 'SET', 'GET', 'DEL'],
  redis4: ['redis-connect', 'SET', 'GET', 'DEL'],
};

describe.skipIf(!available).each(['ioredis', 'redis', 'redis4'].flatMap((pkg) => VARIANTS.map((ext) => [pkg, ext] as const)))(
  'Redis commands sent before ready: %s (%s)',
  (pkg, ext) => {
    it('one span per command the app issued, none for the handshake or the replays', async () => {
      const service = `ready-${pkg}-${ext}`;
      const value = secret('ready');
      const r = await runFixture({ fixture: `db/redis-ready.${ext}`, args: [pkg], endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, DB_SECRET: value } });
      expectOk(r);
      expect(r.stdout).toContain(`VALUE ${value}`);
      const pid = /PID (\d+)/.exec(r.stdout)![1]!;
      const spans = spansOf(rx, service);
      const { server, db } = requestSpans(spans);
      expect(server.name).toBe('GET /ready');
      const ordered = [...db].sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
      expect(ordered.map((s) => s.name)).toEqual(ASKED[pkg]);
      // No database span anywhere else (no root spans for the handshake, no grandchildren).
      expect(spans.filter(isDb)).toHaveLength(db.length);
      for (const s of db) expect(s.status.code, s.name).not.toBe('ERROR');
      expect(ordered.find((s) => s.name === 'SET')!.attributes['db.query.text']).toBe(`SET ready:${pid} ?`);
      expectNowhere(spans, value);
    });
  },
);
