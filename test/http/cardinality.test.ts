/**
 * A plain node:http app (no router) hit with 10,000 random slug paths: the SERVER span names are
 * bounded by the guessed-name cap (500, docs/web-frameworks.md) plus the method alone, and the
 * guess is never written to http.route. guessed-names.unit.test.ts checks the cap itself; this is
 * the same thing on what an OTLP receiver gets from a real app.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, VARIANTS } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { send, spansOf } from './helpers';

const REQUESTS = 10_000;
const LIMIT = 500;

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

/** Letters only, as a slug is: the guess keeps such a segment (only data-looking segments become `:id`). */
function slug(): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += String.fromCharCode(97 + Math.floor(Math.random() * 26));
  return s;
}

function get(agent: http.Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe.each(VARIANTS)('plain http app, 10,000 random paths (%s)', (ext) => {
  it(`exports at most ${LIMIT} guessed SERVER names plus the method alone, and never http.route`, { timeout: 120_000 }, async () => {
    const service = `cardinality-${ext}`;
    const f = startFixture({
      fixture: `http/slugs.${ext}`,
      mode: ext === 'cjs' ? 'require' : 'import',
      endpoint: rx.url,
      timeoutMs: 110_000,
      env: { OTEL_SERVICE_NAME: service, OTEL_BSP_MAX_QUEUE_SIZE: '20000', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2000' },
    });
    const base = `http://127.0.0.1:${(await f.ready).split(' ')[1]}`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        next++;
        expect(await get(agent, `${base}/posts/${slug()}`)).toBe(200);
      }
    };
    try {
      await Promise.all(Array.from({ length: 16 }, worker));
    } finally {
      agent.destroy();
      await send(`${base}/quit`, { method: 'POST' }).catch(() => f.child.kill('SIGTERM'));
    }
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    const servers = spansOf(rx, service).filter((s) => s.kind === 'SERVER' && s.attributes['url.path'] !== '/quit');
    expect(servers).toHaveLength(REQUESTS);
    const names = new Set(servers.map((s) => s.name));
    expect(names.size).toBe(LIMIT + 1);
    expect(names).toContain('GET');
    expect([...names].filter((n) => n.startsWith('GET /posts/'))).toHaveLength(LIMIT);
    expect(servers.filter((s) => s.attributes['http.route'] !== undefined)).toEqual([]);
  });
});
