/**
 * Sampling rules end to end, on what the receiver got: OTEL_AGENT_DROP_PROBES
 * drops the probes and nothing else; rules from OTEL_CONFIG_FILE keep one
 * route at 100% while the rest is dropped; the exit summary counts them.
 */
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { startFixture, VARIANTS } from '../harness/fixture';
import { send, spansOf } from '../http/helpers';

let rx: OtlpReceiver;
let dir: string;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  dir = mkdtempSync(join(tmpdir(), 'otel-agent-rules-'));
});
afterAll(async () => {
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
});

/** test/fixtures/http/server.<ext>, driven with `paths`, then POST /quit. */
async function run(ext: string, env: Record<string, string>, paths: string[]): Promise<{ stderr: string; code: number | null }> {
  const f = startFixture({ fixture: `http/server.${ext}`, endpoint: rx.url, env: { OTEL_LOG_LEVEL: 'info', ...env } });
  const port = Number((await f.ready).split(' ')[1]);
  for (const p of paths) await send(`http://127.0.0.1:${port}${p}`);
  await send(`http://127.0.0.1:${port}/quit`, { method: 'POST' });
  const r = await f.result;
  return { stderr: r.stderr, code: r.code };
}

/** One HTTP/2 request from the test process (untraced), on its own session. */
function h2(url: string, path: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(url);
    s.on('error', reject);
    const r = s.request({ ':path': path, ':method': method });
    r.on('response', (h) => {
      r.resume();
      r.on('end', () => {
        s.close();
        resolve(Number(h[':status']));
      });
    });
    r.on('error', reject);
    r.end();
  });
}

const paths = (service: string): string[] =>
  spansOf(rx, service)
    .filter((s) => s.kind === 'SERVER')
    .map((s) => String(s.attributes['url.path']))
    .sort();

describe.each(VARIANTS)('sampling rules (%s)', (ext) => {
  it('OTEL_AGENT_DROP_PROBES=true: no spans for health and readiness probes, everything else as before', async () => {
    const service = `probes-${ext}`;
    const r = await run(ext, { OTEL_SERVICE_NAME: service, OTEL_AGENT_DROP_PROBES: 'true' }, ['/healthz', '/ready/', '/orders/7', '/metrics', '/healthcheck']);
    expect(r.code, r.stderr).toBe(0);
    expect(paths(service)).toEqual(['/healthcheck', '/orders/7', '/quit']);
    expect(r.stderr).toMatch(/sampling rules: probe \/healthz: 1 dropped; probe \/ready: 1 dropped; probe \/metrics: 1 dropped/);
    // The startup line says the rules decide first, not only the configured sampler.
    expect(r.stderr).toMatch(/sampler parentbased_always_on after the probe rule, /);
  });

  it('HTTP/2 SERVER spans start with url.path too: OTEL_AGENT_DROP_PROBES drops their probes', async () => {
    const service = `probes-h2-${ext}`;
    const f = startFixture({
      fixture: `http2/server.${ext}`,
      endpoint: rx.url,
      env: { OTEL_LOG_LEVEL: 'info', OTEL_SERVICE_NAME: service, OTEL_AGENT_DROP_PROBES: 'true' },
    });
    const base = `http://127.0.0.1:${Number((await f.ready).split(' ')[1])}`;
    try {
      expect(await h2(base, '/healthz')).toBe(404);
      expect(await h2(base, '/fail')).toBe(500);
    } finally {
      await h2(base, '/quit', 'POST').catch(() => f.child.kill('SIGTERM'));
    }
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    expect(paths(service)).toEqual(['/fail', '/quit']);
    expect(r.stderr).toMatch(/sampling rules: probe \/healthz: 1 dropped/);
  });

  it('rules from the configuration file: keep /orders, drop the rest, count both', async () => {
    const service = `rules-file-${ext}`;
    const file = join(dir, `rules-${ext}.yaml`);
    writeFileSync(
      file,
      `file_format: "1.1"
log_level: info
resource:
  attributes: [{ name: service.name, value: ${service} }]
tracer_provider:
  processors:
    - batch:
        exporter:
          otlp_http:
            endpoint: ${rx.url}/v1/traces
  sampler:
    rule_based/development:
      rules:
        - action: sample
          ratio: 1
          span_kind: server
          attributes:
            url.path: /orders/*
        - action: drop
          span_kind: server
      fallback:
        parent_based:
          root:
            always_on:
`,
    );
    const r = await run(ext, { OTEL_CONFIG_FILE: file }, ['/orders/1', '/nope', '/orders/2', '/fail']);
    expect(r.code, r.stderr).toBe(0);
    expect(paths(service)).toEqual(['/orders/1', '/orders/2']);
    // /nope, /fail and the POST /quit: three dropped by rule 2.
    expect(r.stderr).toContain('sampling rules: rule 1 (sample 1 server url.path=/orders/*): 2 kept; rule 2 (drop server): 3 dropped');
    expect(r.stderr).toMatch(/ after 2 sampling rule\(s\), /);
    expect(r.stderr.split('\n').filter((l) => / warning:/.test(l))).toEqual([]);
  });
});
