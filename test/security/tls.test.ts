/**
 * TLS to the collector with the standard variables: a private CA
 * (OTEL_EXPORTER_OTLP_CERTIFICATE), mutual TLS (OTEL_EXPORTER_OTLP_CLIENT_KEY /
 * _CLIENT_CERTIFICATE), and the traces-specific forms. Certificates are made
 * with the openssl binary for each run. A collector whose certificate the
 * agent cannot verify gets nothing, neither while the app runs nor in the
 * flush at exit (which uses another code path), and the agent says so once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver, type OtlpReceiverOptions } from '../harness/otlp-receiver';
import { VARIANTS } from '../harness/fixture';
import { drive, killLeftovers, request, startTracked, statsBySignal, wrongWorkAnswers } from '../reliability/load';

afterAll(killLeftovers);

let dir = '';
let openssl = true;
const p = (f: string): string => join(dir, f);

function ssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, and certificates it signs: `name.crt` / `name.key`. */
function makeCa(name: string): void {
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
}
function makeCert(name: string, ca: string, ext: string): void {
  writeFileSync(p(`${name}.ext`), ext);
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  ssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'otel-tls-'));
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
  } catch {
    openssl = false;
    if (process.env.CI === 'true') throw new Error('the openssl binary is needed for the TLS tests');
    console.warn('\n!!! openssl is not on PATH: the TLS tests are SKIPPED\n');
    return;
  }
  makeCa('ca');
  makeCa('rogue-ca');
  makeCert('collector', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  makeCert('impostor', 'rogue-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  makeCert('agent', 'ca', 'extendedKeyUsage=clientAuth\n');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const receivers: OtlpReceiver[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

async function tlsReceiver(o: { cert: 'collector' | 'impostor'; requireClientCert?: boolean }): Promise<OtlpReceiver> {
  const tls: NonNullable<OtlpReceiverOptions['tls']> = { key: readFileSync(p(`${o.cert}.key`)), cert: readFileSync(p(`${o.cert}.crt`)) };
  if (o.requireClientCert) Object.assign(tls, { ca: readFileSync(p('ca.crt')), requestCert: true });
  const rx = await startOtlpReceiver({ tls });
  receivers.push(rx);
  return rx;
}

interface Outcome {
  /** /work spans delivered while the app ran. */
  running: number;
  /** /work spans delivered by the flush inside process.exit (the synchronous path). */
  atExit: number;
  code: number | null;
  warnings: string[];
  stderr: string;
}

/**
 * 30 requests exported while the app runs, then 20 more, the last of them still queued or in
 * flight when the app calls process.exit(3): the exit flush delivers them.
 */
async function exportOverTls(rx: OtlpReceiver, ext: string, service: string, env: Record<string, string>): Promise<Outcome> {
  const f = startTracked({ fixture: `reliability/server.${ext}`, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, ...env } });
  const port = Number((await f.ready).split(' ')[1]);
  expect(
    wrongWorkAnswers(
      await drive(
        port,
        Array.from({ length: 30 }, (_, i) => `/work/${i}`),
        6,
      ),
    ),
  ).toEqual([]);
  // Distinct spans: a batch in flight when process.exit() runs is sent again by the exit flush
  // (docs/guarantees.md, "Every export settles exactly once": twice rather than lost), so on a loaded machine some may arrive twice.
  const mine = (re: RegExp): number =>
    new Set(
      rx
        .spans()
        .filter((s) => s.resource['service.name'] === service && re.test(String(s.attributes['url.path'])))
        .map((s) => s.spanId),
    ).size;
  // Delivered or refused: wait until the agent has settled every span ended so far (asking by signal makes no span).
  const end = Date.now() + 10_000;
  for (;;) {
    const a = (await statsBySignal<{ agent: { ended: number; exported: number; failed: number; dropped: number } }>(f.child)).agent;
    if (a.ended - a.exported - a.failed - a.dropped === 0 || Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const running = mine(/^\/work\/\d$|^\/work\/[12]\d$/);
  expect(
    wrongWorkAnswers(
      await drive(
        port,
        Array.from({ length: 20 }, (_, i) => `/work/${100 + i}`),
        4,
      ),
    ),
  ).toEqual([]);
  await request(port, '/exit-now/3');
  const r = await f.result;
  return {
    running,
    atExit: mine(/^\/work\/1\d\d$/),
    code: r.code,
    warnings: r.stderr.split('\n').filter((l) => l.startsWith('[otel-agent] warning:')),
    stderr: r.stderr,
  };
}

describe.each(VARIANTS)('TLS to the collector (%s)', (ext) => {
  it('trusts the CA named by OTEL_EXPORTER_OTLP_CERTIFICATE, while running and at exit', async () => {
    if (!openssl) return;
    const rx = await tlsReceiver({ cert: 'collector' });
    const o = await exportOverTls(rx, ext, `tls-ca-${ext}`, { OTEL_EXPORTER_OTLP_CERTIFICATE: p('ca.crt') });
    expect(o.code, o.stderr).toBe(3);
    expect(o.stderr).toBe('');
    expect(o.running).toBe(30);
    expect(o.atExit).toBe(20);
  });

  it('mutual TLS: presents OTEL_EXPORTER_OTLP_CLIENT_KEY / _CLIENT_CERTIFICATE (traces-specific CA variable)', async () => {
    if (!openssl) return;
    const rx = await tlsReceiver({ cert: 'collector', requireClientCert: true });
    const o = await exportOverTls(rx, ext, `tls-mtls-${ext}`, {
      OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: p('ca.crt'),
      OTEL_EXPORTER_OTLP_CLIENT_KEY: p('agent.key'),
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: p('agent.crt'),
    });
    expect(o.code, o.stderr).toBe(3);
    expect(o.stderr).toBe('');
    expect(o.running).toBe(30);
    expect(o.atExit).toBe(20);
  });

  it('a collector that requires a client certificate gets nothing from an agent without one, and the agent says so once', async () => {
    if (!openssl) return;
    const rx = await tlsReceiver({ cert: 'collector', requireClientCert: true });
    const o = await exportOverTls(rx, ext, `tls-noclient-${ext}`, { OTEL_EXPORTER_OTLP_CERTIFICATE: p('ca.crt') });
    expect(o.code, o.stderr).toBe(3);
    expect(o.running + o.atExit).toBe(0);
    expect(o.warnings, o.stderr).toHaveLength(1);
    expect(o.warnings[0]).toMatch(/could not export spans to OTLP http\/protobuf https:\/\/127\.0\.0\.1:\d+\/v1\/traces/);
  });

  it.each([
    ['the configured private CA', true],
    ['the system CAs', false],
  ] as const)(
    'an untrusted collector certificate is refused (checked against %s): nothing delivered, one warning, the app unaffected',
    async (_what, withCa) => {
      if (!openssl) return;
      const rx = await tlsReceiver({ cert: 'impostor' });
      const o = await exportOverTls(rx, ext, `tls-untrusted-${withCa}-${ext}`, withCa ? { OTEL_EXPORTER_OTLP_CERTIFICATE: p('ca.crt') } : {});
      expect(o.code, o.stderr).toBe(3);
      expect(o.running + o.atExit).toBe(0);
      expect(rx.requests()).toEqual([]);
      expect(o.warnings, o.stderr).toHaveLength(1);
      expect(o.warnings[0]).toMatch(/could not export spans .*(certificate|CERT)/i);
    },
  );

  it('an unreadable certificate file: one warning naming the variable, the default trust store used, the app runs', async () => {
    if (!openssl) return;
    const rx = await tlsReceiver({ cert: 'collector' });
    const o = await exportOverTls(rx, ext, `tls-missing-${ext}`, { OTEL_EXPORTER_OTLP_CERTIFICATE: p('no-such-ca.crt') });
    expect(o.code).toBe(3);
    // Without the private CA, the collector's certificate cannot be verified: nothing is sent to it.
    expect(o.running + o.atExit).toBe(0);
    expect(
      o.warnings.filter((w) => w.includes('OTEL_EXPORTER_OTLP_CERTIFICATE=')),
      o.stderr,
    ).toHaveLength(1);
    expect(
      o.warnings.filter((w) => w.includes('could not export spans')),
      o.stderr,
    ).toHaveLength(1);
  });
});
