/**
 * The headline: an oq-like task queue over S3 (test/fixtures/s3-task-queue, no tracing
 * code) traced end to end with nothing but OTEL_AGENT_QUEUE_HOOKS.
 *
 * Process A serves POST /orders and submits a task (two S3 writes). Process B,
 * started afterwards, polls, then executes the task: claim (three S3 calls),
 * the handler (PostgreSQL and an HTTP call), complete (two S3 calls). The
 * receiver must get ONE trace: the queue's submit and execute diagrams joined under the request.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, childrenOf, one, spanTree, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { FIXTURES, runFixture, startFixture, VARIANTS } from '../harness/fixture';
import { requireServer, SERVERS } from '../harness/servers';
import { startS3, type S3Server } from '../servers/s3';

const HAVE_PG = await requireServer('postgres');
const require = createRequire(import.meta.url);

interface PgClient {
  connect(): Promise<void>;
  query(q: string, v?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}

let rx: OtlpReceiver;
let s3: S3Server;
let pg: PgClient;
let payment: http.Server;
let paymentUrl: string;
const charges: unknown[] = [];
const table = `oq_orders_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  rx = await startOtlpReceiver();
  s3 = await startS3({ bucket: 'oq' });
  // The payment service the handler calls: a plain server, not traced, so its only span is the worker's CLIENT span.
  payment = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      charges.push({ headers: req.headers, body: JSON.parse(body) });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: `ch_${charges.length}` }));
    });
  });
  await new Promise<void>((r) => payment.listen(0, '127.0.0.1', r));
  paymentUrl = `http://127.0.0.1:${(payment.address() as AddressInfo).port}`;
  if (HAVE_PG) {
    const { Client } = require('pg') as { Client: new (o: object) => PgClient };
    pg = new Client({ host: SERVERS.postgres.host, port: SERVERS.postgres.port, user: 'postgres', database: 'test', connectionTimeoutMillis: 3000 });
    await pg.connect();
    await pg.query(`CREATE TABLE ${table} (id int PRIMARY KEY, amount_cents int NOT NULL, status text NOT NULL)`);
    await pg.query(`INSERT INTO ${table} VALUES (1, 4200, 'new'), (2, 1999, 'new')`);
  }
});

afterAll(async () => {
  if (pg) {
    await pg.query(`DROP TABLE IF EXISTS ${table}`);
    await pg.end();
  }
  payment?.close();
  await s3?.close();
  await rx?.close();
});

function hooks(ext: string): string {
  return [
    `./lib/oq.${ext}#TaskQueue.prototype.submit=submit(arg1, queue=orders, id=return.id, system=oq)`,
    `./lib/oq.${ext}#Worker.prototype.execute=execute(arg0.input, queue=orders, id=arg0.id, attempt=arg0.attempt, system=oq)`,
    `./lib/oq.${ext}#Worker.prototype.claim=span(name=claim)`,
    `./lib/handlers.${ext}#process_order=span()`,
    `./lib/oq.${ext}#Worker.prototype.complete=span(name=complete)`,
  ].join('; ');
}

const s3Spans = (spans: RecvSpan[]): string[] =>
  spans
    .filter((s) => s.name.startsWith('S3.'))
    .map(
      (s) =>
        `${s.name} ${String(s.attributes['aws.s3.key'] ?? '?')
          .replace(/[0-9a-f-]{36}/, '<id>')
          .replace(/\/\d{13}\//, '/<ts>/')}`,
    );

describe.skipIf(!HAVE_PG).each(VARIANTS)('oq over S3, traced by OTEL_AGENT_QUEUE_HOOKS alone (%s)', (ext) => {
  it('one trace: request -> submit -> its S3 writes, and submit -> execute -> claim / handler / complete with every call nested', async () => {
    const orderId = ext === 'cjs' ? 1 : 2;
    const service = `oq-${ext}-${randomUUID().slice(0, 6)}`;
    const env = {
      ...s3.env(),
      OTEL_AGENT_QUEUE_HOOKS: hooks(ext),
      ORDERS_TABLE: table,
      PAYMENT_URL: paymentUrl,
      PGPORT: String(SERVERS.postgres.port),
    };
    const cwd = join(FIXTURES, 's3-task-queue');

    // Process A: the web app.
    const web = startFixture({ fixture: `s3-task-queue/web.${ext}`, cwd, endpoint: rx.url, env: { ...env, OTEL_SERVICE_NAME: `${service}-web` } });
    const port = Number((await web.ready).split(' ')[1]);
    const res = await fetch(`http://127.0.0.1:${port}/orders`, { method: 'POST', body: JSON.stringify({ orderId }) });
    expect(res.status).toBe(202);
    const { taskId } = (await res.json()) as { taskId: string };
    const a = await web.result;
    expect(a.code, a.stderr).toBe(0);

    // Process B: the worker, a separate process started afterwards.
    const b = await runFixture({ fixture: `s3-task-queue/worker.${ext}`, cwd, endpoint: rx.url, env: { ...env, OTEL_SERVICE_NAME: `${service}-worker` } });
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain(`DONE {"orderId":${orderId},"receipt":"ch_`);
    expect(`${a.stderr}${b.stderr}`).not.toContain('warning');
    expect((await pg.query(`SELECT status FROM ${table} WHERE id = $1`, [orderId])).rows[0]!.status).toBe('paid');

    const all = rx.spans().filter((s) => String(s.resource['service.name']).startsWith(service));
    const server = one(
      all.filter((s) => s.kind === 'SERVER'),
      'POST /orders',
    );
    const trace = all.filter((s) => s.traceId === server.traceId);
    const tree = spanTree(trace);
    const webSpans = trace.filter((s) => s.resource['service.name'] === `${service}-web`);
    const workerSpans = trace.filter((s) => s.resource['service.name'] === `${service}-worker`);

    // request -> submit
    expect(server.parentSpanId, tree).toBe('');
    const submit = one(webSpans, 'publish orders');
    expect(submit.kind).toBe('PRODUCER');
    expect(submit.parentSpanId).toBe(server.spanId);
    expect(submit.attributes).toMatchObject({
      'messaging.system': 'oq',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'orders',
      'messaging.message.id': taskId,
    });
    // submit -> its two S3 writes, in order, and nothing else in process A
    expect(s3Spans(childrenOf(trace, submit)), tree).toEqual(['S3.PutObject tasks/a/<id>.json', 'S3.PutObject ready/a/<ts>/<id>']);
    expect(webSpans.map((s) => s.name).sort()).toEqual(['POST /orders', 'S3.PutObject', 'S3.PutObject', 'publish orders'].sort());

    // submit -> execute, across the process boundary, through the task JSON in S3
    const execute = one(workerSpans, 'process orders');
    expect(execute.kind).toBe('CONSUMER');
    expect(execute.parentSpanId, tree).toBe(submit.spanId);
    expect(execute.attributes).toMatchObject({
      'messaging.system': 'oq',
      'messaging.operation.type': 'process',
      'messaging.message.id': taskId,
      'task.attempt': 1,
    });
    expect(
      childrenOf(trace, execute).map((s) => s.name),
      tree,
    ).toEqual(['claim', 'process_order', 'complete']);

    const claim = one(workerSpans, 'claim');
    expect(claim.kind).toBe('INTERNAL');
    expect(s3Spans(childrenOf(trace, claim)), tree).toEqual([
      'S3.GetObject tasks/a/<id>.json',
      'S3.PutObject leases/a/<id>',
      'S3.DeleteObject ready/a/<ts>/<id>',
    ]);

    const handler = one(workerSpans, 'process_order');
    const handlerKids = childrenOf(trace, handler);
    expect(
      handlerKids.map((s) => s.kind),
      tree,
    ).toEqual(['CLIENT', 'CLIENT', 'CLIENT']);
    const [getOrder, charge, markPaid] = handlerKids as [RecvSpan, RecvSpan, RecvSpan];
    expect(getOrder.attributes['db.system.name'] ?? getOrder.attributes['db.system']).toBe('postgresql');
    expect(String(getOrder.attributes['db.query.text'] ?? getOrder.attributes['db.statement'])).toBe(`SELECT amount_cents FROM ${table} WHERE id = $1`);
    expect(charge.name).toMatch(/^POST/);
    expect(charge.attributes['url.full']).toBe(`${paymentUrl}/charge`);
    expect(markPaid.attributes['db.system.name'] ?? markPaid.attributes['db.system']).toBe('postgresql');
    // (How literals in query text are shown is the pg instrumentation's business, not this test's.)
    expect(String(markPaid.attributes['db.query.text'] ?? markPaid.attributes['db.statement'])).toMatch(
      new RegExp(`^UPDATE ${table} SET status = \\S+ WHERE id = \\$1$`),
    );
    // The payment service received the handler's context: its CLIENT span.
    const last = charges.at(-1) as { headers: Record<string, string> };
    expect(last.headers.traceparent).toBe(`00-${server.traceId}-${charge.spanId}-03`); // sampled, random trace id

    const complete = one(workerSpans, 'complete');
    expect(s3Spans(childrenOf(trace, complete)), tree).toEqual(['S3.PutObject tasks/a/<id>.json', 'S3.DeleteObject leases/a/<id>']);

    // Nothing else in the trace: every span is one of those above.
    const placed = new Set([server, submit, execute, claim, handler, complete, ...[submit, claim, handler, complete].flatMap((p) => childrenOf(trace, p))]);
    expect(
      trace.filter((s) => !placed.has(s)).map((s) => s.name),
      tree,
    ).toEqual([]);

    // Outside the trace, the worker only made the poll it needed to find the task
    // (list the ready markers, read the task): before that, no context exists to join.
    const outside = all.filter((s) => s.traceId !== server.traceId);
    expect(s3Spans(outside).sort()).toEqual(['S3.GetObject tasks/a/<id>.json', 'S3.ListObjectsV2 ?']);
  });
});
