/**
 * The agent's own code failing while the app is under load: an
 * instrumentation's patch, an instrumentation's wrapper inside the app's call,
 * a configuration hook, a span processor. The app's calls must return their
 * normal result or their own error, and the failing piece must be switched off
 * with one warning.
 *
 * The instrumentation faults come from the environment, as a user would meet
 * them: a pg-compatible module whose shape the pg instrumentation does not
 * expect (a frozen class, as under hardened JavaScript; a client without the
 * internals the instrumentation reads). Hook and processor faults cannot be
 * caused from outside, so OTEL_AGENT_TEST_FAULTS (internal) makes them throw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { FIXTURES, VARIANTS } from '../harness/fixture';
import { type Answer, drive, killLeftovers, request, startTracked, wrongWorkAnswers } from './load';

afterAll(killLeftovers);

let rx: OtlpReceiver;
const dirs: string[] = [];
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const of = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);
const agentLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('[otel-agent]'));

/**
 * A pg-compatible client in the version range the pg instrumentation patches.
 * 'frozen': its prototype is frozen, so the patch cannot install its wrappers (it throws while the app loads pg).
 * 'bare': no `connectionParameters`, which the instrumentation's query wrapper reads before running the query.
 */
function fakePg(shape: 'frozen' | 'bare'): string {
  return `
class Client {
  constructor(opts = {}) {
    this.host = opts.host;
    this.database = opts.database;
    this.port = 5432;
    ${shape === 'frozen' ? 'this.connectionParameters = { host: this.host, port: this.port, database: this.database };' : ''}
  }
  connect(cb) { if (cb) return void process.nextTick(cb, null); return Promise.resolve(); }
  query(text, values) {
    if (text.includes('nope')) return Promise.reject(new Error('relation "nope" does not exist'));
    return new Promise((resolve) => setTimeout(() => resolve({ rows: [{ n: values[0] }] }), 1));
  }
  end() { return Promise.resolve(); }
}
${shape === 'frozen' ? 'Object.freeze(Client.prototype);' : ''}
module.exports = { Client };
`;
}

function appWithFakePg(ext: string, shape: 'frozen' | 'bare'): string {
  const dir = mkdtempSync(join(tmpdir(), 'otel-fake-pg-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'node_modules', 'pg'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'pg', 'package.json'), JSON.stringify({ name: 'pg', version: '8.99.0', main: 'index.js' }));
  writeFileSync(join(dir, 'node_modules', 'pg', 'index.js'), fakePg(shape));
  const app = join(dir, `app.${ext}`);
  copyFileSync(join(FIXTURES, `reliability/pg-app.${ext}`), app);
  return app;
}

function wrongPgAnswers(answers: Answer[]): string[] {
  return answers
    .filter((a) => {
      if (a.path === '/bad') return a.status !== 500 || a.body !== 'query failed: relation "nope" does not exist';
      const n = Number(a.path.split('/')[2]);
      return a.status !== 200 || a.body !== JSON.stringify({ n, rows: [{ n }] });
    })
    .map((a) => `${a.path}: ${a.status} ${a.error ?? a.body}`);
}

const pgLoad = (): string[] => Array.from({ length: 200 }, (_, i) => (i % 10 === 5 ? '/bad' : `/q/${i}`));

describe.each(VARIANTS)('an instrumentation failing on a module shape it does not expect (%s)', (ext) => {
  it.each([
    [
      'frozen',
      'its patch throws while the app loads the module: the module loads unpatched',
      /instrumentation "pg" could not patch pg@8\.99\.0 \(TypeError: .*\); pg is loaded unpatched/,
    ],
    [
      'bare',
      'its wrapper throws inside the app\'s query: the query runs as if untraced, "pg" is switched off',
      /instrumentation "pg" threw inside Client\.query \(TypeError: .*\); the call went on without it, and "pg" is switched off/,
    ],
  ] as const)("%s client: %s; every answer under load is the app's own, one warning", async (shape, _what, warning) => {
    const service = `pg-${shape}-${ext}`;
    const f = startTracked({ fixture: appWithFakePg(ext, shape), endpoint: rx.url, env: { OTEL_SERVICE_NAME: service } });
    const port = Number((await f.ready).split(' ')[1]);
    const answers = await drive(port, pgLoad(), 16);
    expect(wrongPgAnswers(answers), 'answers that are not what the app itself returns').toEqual([]);
    await request(port, '/shutdown');
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    const lines = agentLines(r.stderr);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(warning);
    // Only pg stepped aside: every request still has its SERVER span.
    await rx.waitForSpans(() => of(service).filter((s) => s.kind === 'SERVER' && s.name !== 'GET /shutdown').length === 200, 10_000);
    expect(of(service).filter((s) => s.attributes['db.system.name'] === 'postgresql' && s.name !== 'pg.connect')).toEqual([]);
  });
});

const n = 150;

/**
 * Drives n /work requests (each with an outgoing hop) with OTEL_AGENT_TEST_FAULTS=fault: every
 * answer must be the app's own, the exit code the app's, and the agent's stderr one warning.
 */
async function loadUnderFault(ext: string, service: string, fault: string, warning: RegExp): Promise<void> {
  const f = startTracked({ fixture: `reliability/server.${ext}`, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, OTEL_AGENT_TEST_FAULTS: fault } });
  const port = Number((await f.ready).split(' ')[1]);
  const answers = await drive(
    port,
    Array.from({ length: n }, (_, i) => `/work/${i}?hop=1`),
    16,
  );
  expect(wrongWorkAnswers(answers)).toEqual([]);
  const bye = await request(port, '/shutdown?code=42', { method: 'POST' });
  expect(bye.status).toBe(200);
  const r = await f.result;
  expect(r.code, r.stderr).toBe(42);
  const lines = agentLines(r.stderr);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(warning);
}

describe.each(VARIANTS)("the agent's own pieces throwing while requests are in flight (%s)", (ext) => {
  it.each([
    ['processor-on-start', /span processor FaultProcessor threw in onStart \(Error: test fault in onStart\); it is switched off/],
    ['processor-on-ending', /span processor FaultProcessor threw in onEnding \(Error: test fault in onEnding\); it is switched off/],
    ['processor-on-end', /span processor FaultProcessor threw in onEnd \(Error: test fault in onEnd\); it is switched off/],
  ] as const)('%s: every answer is right, every request still traced, one warning', async (fault, warning) => {
    const service = `own-${fault}-${ext}`;
    await loadUnderFault(ext, service, fault, warning);
    // The failing piece was one of several: the export pipeline carried on.
    const spans = await rx.waitForSpans(
      () => of(service).filter((s) => s.kind === 'SERVER' && String(s.attributes['url.path']).startsWith('/work/')).length === n,
      10_000,
    );
    const mine = spans.filter((s) => s.resource['service.name'] === service);
    expect(mine.filter((s) => s.kind === 'CLIENT')).toHaveLength(n);
  });

  it('http-bookkeeping: the HTTP instrumentation throwing inside a request leaves every answer right, one warning, and steps aside', async () => {
    const service = `own-http-bookkeeping-${ext}`;
    await loadUnderFault(
      ext,
      service,
      'http-bookkeeping',
      /instrumentation "http" threw inside ServerResponse\.emit\('finish'\) \(Error: test fault in http bookkeeping\); the call went on without it, and "http" is switched off/,
    );
    // The first request's outgoing call ended (and was exported) before its response failed
    // the bookkeeping; after that the instrumentation is off: no request that started later
    // has a span (at most the 16 in flight at the time could).
    await rx.waitForSpans(() => of(service).some((s) => s.kind === 'CLIENT'), 10_000);
    const http = of(service).filter((s) => s.kind === 'SERVER' || s.kind === 'CLIENT');
    expect(http.length).toBeLessThanOrEqual(16);
  });
});
