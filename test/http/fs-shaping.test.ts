/**
 * fs spans a user would keep on: on an app that serves static files (stat, then
 * createReadStream, as serve-static/send do) and probes for files with
 * existsSync on every request (as json-server does), the default makes no
 * spans for existence and metadata checks, keeps the reads, and never marks a
 * request red because a probed file is missing. OTEL_AGENT_FS_SPANS=all brings
 * every call back, with a missing file on a probe still not an error.
 *
 * And fs spans carry no file paths: a request that opens missing files with
 * the callback, promise and sync APIs (and renames one) exports the error code
 * and error.type, but no status message, exception event or attribute that
 * contains the path or its directory, while the app's own errors stay whole.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS, startFixture } from '../harness/fixture';
import { childrenOf, startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { leaks, send, spansOf } from './helpers';

const FS = '@opentelemetry/instrumentation-fs';
const PAGE = '<!doctype html><title>static</title>\n';

let rx: OtlpReceiver;
let root: string;
let missing: string;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  root = mkdtempSync(join(tmpdir(), 'otel-fs-static-'));
  writeFileSync(join(root, 'index.html'), PAGE);
  writeFileSync(join(root, 'db.json'), '{"posts":[]}');
  mkdirSync(join(root, 'public'));
  writeFileSync(join(root, 'public/index.html'), PAGE);
  // A directory that does not exist: every file the app opens under it is missing.
  missing = join(tmpdir(), `otel-fs-missing-${process.pid}-${Date.now()}`, 'conf.d');
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await rx.close();
});

async function runApp(ext: string, service: string, env: Record<string, string>, drive: (base: string) => Promise<void>): Promise<RecvSpan[]> {
  const f = startFixture({
    fixture: `fs/static.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: service, STATIC_ROOT: root, MISSING_DIR: missing, ...env },
  });
  const base = `http://127.0.0.1:${(await f.ready).split(' ')[1]}`;
  try {
    await drive(base);
  } finally {
    await send(`${base}/quit`, { method: 'POST' }).catch(() => f.child.kill('SIGTERM'));
  }
  const r = await f.result;
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr, 'the agent printed warnings or errors').toBe('');
  return spansOf(rx, service);
}

/** The static-site traffic: three files served, two misses, two json-server-style requests. */
async function browse(base: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const r = await send(`${base}/static/index.html`);
    expect(r.status).toBe(200);
    expect(r.body).toBe(PAGE);
  }
  for (let i = 0; i < 2; i++) expect((await send(`${base}/static/nope-${i}.css`)).status).toBe(404);
  for (let i = 0; i < 2; i++) expect(JSON.parse((await send(`${base}/db`)).body)).toEqual({ found: ['public', 'public/index.html', 'db.json'] });
}

/** Each request's children, by the request's path. */
function childrenByPath(spans: RecvSpan[]): Record<string, string[][]> {
  const out: Record<string, string[][]> = {};
  for (const s of spans.filter((x) => x.kind === 'SERVER' && x.parentSpanId === '')) {
    const p = String(s.attributes['url.path']);
    (out[p] ??= []).push(
      childrenOf(spans, s)
        .map((c) => c.name)
        .sort(),
    );
  }
  return out;
}

describe.each(VARIANTS)('fs spans on a static-file app (%s)', (ext) => {
  it('by default: no spans for existence and metadata checks, the file read still traced, no ERROR for a missing file', async () => {
    const spans = await runApp(ext, `fs-static-default-${ext}`, {}, browse);
    expect(childrenByPath(spans)).toEqual({
      // createReadStream opens the file: the read is the app's work and stays.
      '/static/index.html': [['fs open'], ['fs open'], ['fs open']],
      '/static/nope-0.css': [[]],
      '/static/nope-1.css': [[]],
      '/db': [[], []],
      '/quit': [[]],
    });
    for (const s of spans.filter((x) => x.name === 'fs open')) expect(s.scope.name).toBe(FS);
    expect(spans.filter((s) => s.status.code === 'ERROR').map((s) => s.name)).toEqual([]);
  });

  it('OTEL_AGENT_FS_SPANS=all: every call has its span again, and a probe finding nothing is not an error', async () => {
    const spans = await runApp(ext, `fs-static-all-${ext}`, { OTEL_AGENT_FS_SPANS: 'all' }, browse);
    const exists = Array<string>(6).fill('fs existsSync');
    expect(childrenByPath(spans)).toEqual({
      '/static/index.html': [
        ['fs open', 'fs stat'],
        ['fs open', 'fs stat'],
        ['fs open', 'fs stat'],
      ],
      '/static/nope-0.css': [['fs stat']],
      '/static/nope-1.css': [['fs stat']],
      '/db': [exists, exists],
      '/quit': [[]],
    });
    // The two stat calls that found nothing (ENOENT): an answer, not a failure.
    const stats = spans.filter((s) => s.name === 'fs stat');
    expect(stats).toHaveLength(5);
    for (const s of stats) {
      expect(s.status.code).toBe('UNSET');
      expect(s.events.filter((e) => e.name === 'exception')).toEqual([]);
      expect(s.attributes).not.toHaveProperty('error.type');
    }
    expect(spans.filter((s) => s.status.code === 'ERROR').map((s) => s.name)).toEqual([]);
    expect(leaks(spans, basename(root)), 'the served directory appears in exported data').toEqual([]);
  });

  it('records errors of missing files with their code and error.type, and no path anywhere (callback, promise, sync)', async () => {
    let said = '';
    const spans = await runApp(ext, `fs-missing-${ext}`, {}, async (base) => {
      said = (await send(`${base}/missing`)).body;
    });
    // The app's own errors are untouched: code and path are all there for the app.
    expect(said).toBe('ENOENT:true,ENOENT:true,ENOENT:true,ENOENT:true');
    const request = spans.find((s) => s.attributes['url.path'] === '/missing')!;
    const fs = childrenOf(spans, request);
    expect(fs.map((s) => s.name).sort()).toEqual(['fs open', 'fs readFile', 'fs readFileSync', 'fs renameSync']);
    const syscall: Record<string, string> = { 'fs open': 'open', 'fs readFile': 'open', 'fs readFileSync': 'open', 'fs renameSync': 'rename' };
    for (const s of fs) {
      expect(s.status, s.name).toEqual({ code: 'ERROR', message: `ENOENT: no such file or directory, ${syscall[s.name]}` });
      expect(s.attributes['error.type'], s.name).toBe('ENOENT');
      const ex = s.events.filter((e) => e.name === 'exception');
      expect(ex, s.name).toHaveLength(1);
      expect(ex[0]!.attributes['exception.type']).toBe('ENOENT');
      expect(ex[0]!.attributes['exception.message']).toBe(`ENOENT: no such file or directory, ${syscall[s.name]}`);
    }
    // Neither the files, nor their directory, nor its parent, anywhere in what was exported.
    for (const marker of [missing, basename(join(missing, '..')), 'callback.txt', 'promise.json', 'sync.cfg', 'from.txt', 'to.txt']) {
      expect(leaks(spans, marker), marker).toEqual([]);
    }
  });
});
