/**
 * An API server ("request tracing with spans,
 * correlation with logs"): one request reads SQLite, queries PostgreSQL and logs
 * with pino. With no code change that must be one trace, the two queries nested
 * under the server span, and the log records carrying that span's ids.
 */
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, childrenOf, one, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { requireServer } from '../harness/servers';

const HAVE_PG = await requireServer('postgres');

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

describe.skipIf(!HAVE_PG).each(VARIANTS)('API server (%s)', (ext) => {
  it('GET /api/specs/:id is one trace: SERVER -> SQLite query, PostgreSQL query; pino records carry its ids', async () => {
    const service = `api-server-${ext}`;
    // One export at exit: what arrives does not depend on how exports and the exit interleave.
    const r = await runFixture({
      fixture: `apps/api-server/server.${ext}`,
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('RESPONSE {"id":334,"title":"Distributed Tracing","status":"planned","runs":0}');
    const dbFile = /^DB (.+)$/m.exec(r.stdout)?.[1];
    expect(dbFile).toBeDefined();

    const spans = rx.spans().filter((s) => s.resource['service.name'] === service);
    const server = one(
      spans.filter((s) => s.kind === 'SERVER'),
      'GET /api/specs/:id',
    );
    const client = one(
      spans.filter((s) => s.kind === 'CLIENT'),
      /^GET /,
    );
    expect(server.parentSpanId).toBe(client.spanId);
    expect(server.attributes['http.response.status_code']).toBe(200);

    // Exactly the two queries, directly under the server span.
    const children = childrenOf(spans, server);
    const sqlite = children.find((s) => s.attributes['db.system.name'] === 'sqlite');
    const pg = children.find((s) => s.attributes['db.system.name'] === 'postgresql');
    expect(
      sqlite,
      `a SQLite span under the server span (src/instrumentations/own/sqlite.ts); children: ${children.map((s) => s.name).join(', ')}`,
    ).toBeDefined();
    expect(pg, `a PostgreSQL span under the server span; children: ${children.map((s) => s.name).join(', ')}`).toBeDefined();
    expect(children, 'nothing else under the server span').toHaveLength(2);
    // Sequential queries: the first one's start is never after the second's (equal only on a coarse clock).
    expect(sqlite!.startNs <= pg!.startNs, 'the SQLite query, which the handler runs first, starts first').toBe(true);

    expect(sqlite!.name).toBe('SELECT specs');
    expect(sqlite!.kind).toBe('CLIENT');
    expect(sqlite!.attributes).toMatchObject({
      'db.system.name': 'sqlite',
      'db.operation.name': 'SELECT',
      'db.collection.name': 'specs',
      'db.query.text': 'SELECT id, title, status FROM specs WHERE id = ?',
    });
    expect(sqlite!.attributes['db.namespace']).toBe(basename(dbFile!));

    expect(pg!.name).toBe('SELECT pg_catalog.pg_tables');
    expect(pg!.kind).toBe('CLIENT');
    expect(pg!.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.namespace': 'test',
      'db.operation.name': 'SELECT',
      'db.collection.name': 'pg_catalog.pg_tables',
      'db.query.text': 'SELECT count(*)::int AS runs FROM pg_catalog.pg_tables WHERE tablename = $1',
      'server.address': '127.0.0.1',
      'server.port': 5432,
    });

    // One trace for the whole request.
    expect(new Set([client, server, sqlite!, pg!].map((s) => s.traceId)).size).toBe(1);

    // Query parameter values never reach a span.
    for (const s of spans) expect(JSON.stringify(s.attributes), s.name).not.toContain('spec-334-runs');

    // pino: both records written inside the handler carry the server span's ids; the startup one none.
    const records = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const byMsg = (msg: string): Record<string, unknown> => {
      const found = records.filter((o) => o.msg === msg);
      expect(found, msg).toHaveLength(1);
      return found[0]!;
    };
    for (const msg of ['loading spec', 'spec loaded']) {
      expect(byMsg(msg)).toMatchObject({ trace_id: server.traceId, span_id: server.spanId, trace_flags: '03' }); // sampled, random trace id
    }
    expect(byMsg('api-server listening')).not.toHaveProperty('trace_id');
  });
});
