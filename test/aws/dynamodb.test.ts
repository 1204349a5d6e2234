// AWS SDK v3 DynamoDB (the low-level client and lib-dynamodb's DocumentClient) against a real
// DynamoDB implementation (dynalite), traced by the agent with no code in the app: one CLIENT
// span per command under the request, table and operation but no item, key or expression values.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan, one, spanTree } from '../harness/otlp-receiver';
import { startFixture, VARIANTS } from '../harness/fixture';
import { startDynamo, type DynamoServer } from '../servers/dynamodb';

const AWS_SCOPE = '@opentelemetry/instrumentation-aws-sdk';

let rx: OtlpReceiver;
let ddb: DynamoServer;
beforeAll(async () => {
  [rx, ddb] = await Promise.all([startOtlpReceiver(), startDynamo()]);
});
afterAll(async () => {
  await Promise.all([rx?.close(), ddb?.close()]);
});

function spansOf(service: string): RecvSpan[] {
  const seen = new Set<string>();
  return rx.spans().filter((s) => {
    const id = `${s.traceId}/${s.spanId}`;
    if (s.resource['service.name'] !== service || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

const dump = (spans: RecvSpan[]): string => JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

async function tables(tag: string): Promise<{ carts: string; audit: string }> {
  const c = new DynamoDBClient(ddb.clientConfig);
  const names = { carts: `carts-${tag}`, audit: `audit-${tag}` };
  for (const TableName of Object.values(names)) {
    await c.send(
      new CreateTableCommand({
        TableName,
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }
  c.destroy();
  return names;
}

interface AppResult {
  note: string;
  count: number;
  scanned: number;
  conflict: string;
  docNote: string;
  docCount: number;
}

async function runApp(ext: string, service: string, env: Record<string, string> = {}) {
  const t = await tables(service);
  const secret = `TOPSECRET-${randomBytes(8).toString('hex')}`;
  const key = `KEYSECRET-${randomBytes(8).toString('hex')}`;
  const f = startFixture({
    fixture: `dynamodb/app.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { ...ddb.env(), OTEL_SERVICE_NAME: service, CARTS: t.carts, AUDIT: t.audit, SECRET_VALUE: secret, SECRET_KEY: key, ...env },
  });
  const port = (await f.ready).split(' ')[1];
  const res = await fetch(`http://127.0.0.1:${port}/cart`, { method: 'POST' });
  const text = await res.text();
  const r = await f.result;
  expect(res.status, `${text}\n${r.stderr}`).toBe(200);
  expect(r.code, r.stderr).toBe(0);
  const app = JSON.parse(text) as AppResult;
  expect(app).toEqual({ note: secret, count: 1, scanned: 1, conflict: 'ConditionalCheckFailedException', docNote: secret, docCount: 3 });
  return { t, secret, key, spans: spansOf(service), stderr: r.stderr };
}

const OPS = ['PutItem', 'GetItem', 'UpdateItem', 'Query', 'Scan', 'BatchWriteItem', 'PutItem', 'PutItem', 'GetItem', 'Query'];

describe.each(VARIANTS)('DynamoDB (%s)', (ext) => {
  it('makes one CLIENT span per command (DocumentClient included) with table and operation, no values, no HTTP span', async () => {
    const { t, secret, key, spans } = await runApp(ext, `ddb-${ext}`);
    const tree = spanTree(spans);
    const server = one(
      spans.filter((s) => s.kind === 'SERVER'),
      'POST /cart',
    );
    const aws = spans.filter((s) => s.scope.name === AWS_SCOPE);
    // Seven low-level commands, then three DocumentClient ones, each a single span (lib-dynamodb
    // sends through the same client stack: no second span for the marshalled command).
    expect(
      aws.map((s) => s.name),
      tree,
    ).toEqual(OPS.map((o) => `DynamoDB.${o}`));
    expect(spans, tree).toHaveLength(aws.length + 1);
    aws.forEach((s, i) => {
      expect(s.kind).toBe('CLIENT');
      expect(s.parentSpanId).toBe(server.spanId);
      expect(s.attributes).toMatchObject({ 'db.system.name': 'aws.dynamodb', 'db.operation.name': OPS[i], 'rpc.service': 'DynamoDB', 'rpc.method': OPS[i] });
      expect(s.attributes['db.namespace']).toBeUndefined();
      if (OPS[i] === 'BatchWriteItem') {
        expect(s.attributes['aws.dynamodb.table_names']).toEqual([t.carts, t.audit]);
        expect(s.attributes['db.collection.name']).toBeUndefined();
      } else {
        expect(s.attributes).toMatchObject({ 'aws.dynamodb.table_names': [t.carts], 'db.collection.name': t.carts });
      }
    });
    expect(aws[1]!.attributes['aws.dynamodb.consistent_read']).toBe(true);
    expect(aws[3]!.attributes).toMatchObject({ 'aws.dynamodb.limit': 5, 'aws.dynamodb.count': 1 });
    expect(aws[4]!.attributes['aws.dynamodb.projection']).toBe('pk, qty');
    expect(aws[9]!.attributes['aws.dynamodb.count']).toBe(3);
    // The failed conditional put.
    const failed = aws[6]!;
    expect(failed.status.code).toBe('ERROR');
    expect(failed.attributes['http.response.status_code']).toBe(400);
    expect(failed.events.find((e) => e.name === 'exception')?.attributes['exception.type']).toBe('ConditionalCheckFailedException');
    for (const s of aws.filter((x) => x !== failed)) expect(s.status.code).toBe('UNSET');
    // Item values, key values and expression attribute values never reach the exporter; nor do
    // the expressions that carry them or the credentials.
    const all = dump(spans);
    expect(all).not.toContain(secret);
    expect(all).not.toContain(key);
    expect(all).not.toContain(':note');
    expect(all).not.toContain('attribute_not_exists');
    expect(all).not.toContain('DYNALITE');
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=aws-sdk removes the DynamoDB spans; the raw HTTP requests appear instead', async () => {
    const { spans, stderr } = await runApp(ext, `ddb-off-${ext}`, { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'aws-sdk' });
    const tree = spanTree(spans);
    expect(stderr).not.toMatch(/warn|error/i);
    expect(
      spans.filter((s) => s.scope.name === AWS_SCOPE || /^DynamoDB\./.test(s.name)),
      tree,
    ).toEqual([]);
    const http = spans.filter((s) => s.kind === 'CLIENT');
    expect(
      http.map((s) => [s.scope.name, s.attributes['http.request.method']]),
      tree,
    ).toEqual(Array(OPS.length).fill(['@x/otel-agent/http', 'POST']));
  });
});
