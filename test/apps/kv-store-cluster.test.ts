/**
 * The cross-process proof, modelled on a distributed KV store: four processes (a coordinator
 * and three volumes), each started with the agent and its own service name,
 * none with tracing code. One PUT makes one trace: the coordinator's SERVER
 * span parents three concurrent CLIENT calls, each parents its volume's SERVER
 * span, which parents the volume's fs work.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, VARIANTS, type RunningFixture } from '../harness/fixture';
import { childrenOf, startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { send } from '../http/helpers';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const KEY = 'users/42/avatar.png';
const VALUE = 'not really a png, but 41 bytes of payload';

interface Cluster {
  coord: string;
  volumes: { service: string; port: number; dir: string }[];
  stop(): Promise<void>;
}

/** CommonJS services are started with --require, ESM ones with --import. */
const mode = (ext: string): 'require' | 'import' => (ext === 'cjs' ? 'require' : 'import');

async function startCluster(ext: string, client: string, dir: string): Promise<Cluster> {
  const procs: { f: RunningFixture; base?: string }[] = [];
  const vols = [1, 2, 3].map((i) => {
    const service = `volume-${i}`;
    const vdir = join(dir, service);
    const f = startFixture({
      fixture: `apps/kv-store/volume.${ext}`,
      mode: mode(ext),
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service, VOLUME_DIR: vdir },
    });
    procs.push({ f });
    return { service, dir: vdir, f };
  });
  const volumes = await Promise.all(vols.map(async (v) => ({ service: v.service, dir: v.dir, port: Number((await v.f.ready).split(' ')[1]) })));
  volumes.forEach((v, i) => (procs[i]!.base = `http://127.0.0.1:${v.port}`));
  const cf = startFixture({
    fixture: `apps/kv-store/coord.${ext}`,
    mode: mode(ext),
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: 'coord', VOLUMES: volumes.map((v) => `http://127.0.0.1:${v.port}`).join(','), META_DIR: dir, NANOKV_CLIENT: client },
  });
  const coord = `http://127.0.0.1:${(await cf.ready).split(' ')[1]}`;
  procs.push({ f: cf, base: coord });
  return {
    coord,
    volumes,
    async stop() {
      await Promise.all(procs.map((p) => send(`${p.base}/quit`, { method: 'POST' }).catch(() => p.f.child.kill('SIGTERM'))));
      for (const p of procs) {
        const r = await p.f.result;
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toBe('');
      }
    },
  };
}

/** Every span of one trace, once each (the exit flush may deliver a span twice). */
function traceOf(traceId: string): RecvSpan[] {
  const seen = new Set<string>();
  return rx.spans().filter((s) => s.traceId === traceId && !seen.has(s.spanId) && seen.add(s.spanId));
}

const svc = (s: RecvSpan): string => String(s.resource['service.name']);

/** The trace as an indented tree of `service KIND name`, siblings sorted, so it compares as text. */
function shape(spans: RecvSpan[], root: RecvSpan, depth = 0): string[] {
  const kids = childrenOf(spans, root)
    .map((c) => shape(spans, c, depth + 1))
    .sort((a, b) => a[0]!.localeCompare(b[0]!));
  return [`${'  '.repeat(depth)}${svc(root)} ${root.kind} ${root.name}`, ...kids.flat()];
}

describe.each(VARIANTS)('a KV store across four processes (%s)', (ext) => {
  it.each(['http', 'fetch'])('one PUT is one trace: coord SERVER -> 3 parallel CLIENT (%s) -> volume SERVER -> fs', async (client) => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-store-'));
    rx.clear();
    let putTrace: string;
    let getTrace: string;
    let cluster: Cluster | undefined;
    try {
      cluster = await startCluster(ext, client, dir);
      const put = await send(`${cluster.coord}/key/${encodeURIComponent(KEY)}`, { method: 'PUT', body: VALUE });
      expect(put.status, put.body).toBe(201);
      const got = await send(`${cluster.coord}/key/${encodeURIComponent(KEY)}`);
      expect(got.body).toBe(VALUE);
      await cluster.stop();
      // The app did its job: every volume holds the value.
      for (const v of cluster.volumes) expect(readFileSync(join(v.dir, 'blobs', encodeURIComponent(KEY)), 'utf8')).toBe(VALUE);

      const coordServers = rx.spans().filter((s) => svc(s) === 'coord' && s.kind === 'SERVER');
      putTrace = coordServers.find((s) => s.name === 'PUT /key/:id')?.traceId ?? '';
      getTrace = coordServers.find((s) => s.name === 'GET /key/:id')?.traceId ?? '';
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const { volumes } = cluster!;

    // --- PUT: the whole trace, span by span.
    const spans = traceOf(putTrace);
    const roots = spans.filter((s) => s.parentSpanId === '');
    expect(roots.map((s) => `${svc(s)} ${s.kind} ${s.name}`)).toEqual(['coord SERVER PUT /key/:id']);
    const root = roots[0]!;
    const blob = (v: { port: number }): string => `coord CLIENT PUT http://127.0.0.1:${v.port}/blob/:id`;
    const volumeTree = (v: { port: number; service: string }): string[] => [
      `  ${blob(v)}`,
      `    ${v.service} SERVER PUT /blob/:id`,
      `      ${v.service} INTERNAL fs mkdir`,
      `      ${v.service} INTERNAL fs mkdirSync`,
      `      ${v.service} INTERNAL fs rename`,
      `      ${v.service} INTERNAL fs writeFile`,
    ];
    const expected = [
      'coord SERVER PUT /key/:id',
      ...volumes
        .map(volumeTree)
        .concat([['  coord INTERNAL fs writeFile']])
        .sort((a, b) => a[0]!.localeCompare(b[0]!))
        .flat(),
    ];
    expect(shape(spans, root)).toEqual(expected);
    expect(spans).toHaveLength(expected.length);

    // Ids, kinds and services, edge by edge.
    const clients = childrenOf(spans, root).filter((s) => s.kind === 'CLIENT');
    expect(clients).toHaveLength(3);
    for (const v of volumes) {
      const c = clients.find((s) => s.attributes['server.port'] === v.port)!;
      expect(svc(c)).toBe('coord');
      expect(c.parentSpanId).toBe(root.spanId);
      expect(c.attributes).toMatchObject({ 'http.request.method': 'PUT', 'http.response.status_code': 201, 'server.address': '127.0.0.1' });
      const [vs, ...rest] = childrenOf(spans, c);
      expect(rest).toEqual([]);
      expect(vs!.kind).toBe('SERVER');
      expect(svc(vs!)).toBe(v.service);
      expect(vs!.traceId).toBe(root.traceId);
      expect(vs!.attributes).toMatchObject({ 'url.path': `/blob/${encodeURIComponent(KEY)}`, 'server.port': v.port, 'http.response.status_code': 201 });
      for (const f of childrenOf(spans, vs!)) {
        expect(svc(f)).toBe(v.service);
        expect(f.parentSpanId).toBe(vs!.spanId);
      }
    }
    // The three replica writes were in flight at the same time.
    const lastStart = clients.reduce((m, s) => (s.startNs > m ? s.startNs : m), 0n);
    const firstEnd = clients.reduce((m, s) => (s.endNs < m ? s.endNs : m), clients[0]!.endNs);
    expect(lastStart < firstEnd, 'the three CLIENT spans overlap').toBe(true);

    // --- GET: coord reads its metadata, then the blob from volume-1.
    const g = traceOf(getTrace);
    const v1 = volumes[0]!;
    expect(
      shape(
        g,
        g.find((s) => s.parentSpanId === '')!,
      ),
    ).toEqual([
      'coord SERVER GET /key/:id',
      `  coord CLIENT GET http://127.0.0.1:${v1.port}/blob/:id`,
      `    volume-1 SERVER GET /blob/:id`,
      `      volume-1 INTERNAL fs readFile`,
      '  coord INTERNAL fs readFile',
    ]);
  });
});
