/** Runs test/fixtures/http/server.<ext> under the agent, lets a test drive it, and returns that service's spans. */
import { expect } from 'vitest';
import { startFixture } from '../harness/fixture';
import type { OtlpReceiver, RecvSpan } from '../harness/otlp-receiver';
import { send, spansOf } from './helpers';

export interface ServerRun {
  spans: RecvSpan[];
  port: number;
  stderr: string;
}

export async function withServer(
  rx: OtlpReceiver,
  o: { ext: string; service: string; env?: Record<string, string | undefined>; tls?: { keyPath: string; certPath: string; cert: Buffer } },
  drive: (base: string, port: number) => Promise<void>,
): Promise<ServerRun> {
  const env: Record<string, string | undefined> = { OTEL_SERVICE_NAME: o.service, ...o.env };
  if (o.tls) Object.assign(env, { TLS_KEY: o.tls.keyPath, TLS_CERT: o.tls.certPath });
  // CommonJS apps are started with --require, ESM apps with --import: the two ways users load the agent.
  const f = startFixture({ fixture: `http/server.${o.ext}`, mode: o.ext === 'cjs' ? 'require' : 'import', endpoint: rx.url, env });
  const port = Number((await f.ready).split(' ')[1]);
  const base = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  try {
    await drive(base, port);
  } finally {
    await send(`${base}/quit`, { method: 'POST', ca: o.tls?.cert }).catch(() => f.child.kill('SIGTERM'));
  }
  const r = await f.result;
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr, 'the agent printed warnings or errors').toBe('');
  return { spans: spansOf(rx, o.service), port, stderr: r.stderr };
}
