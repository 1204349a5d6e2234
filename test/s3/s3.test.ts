// AWS SDK v3 S3 client against a real S3-compatible server (s3rver), traced by the agent with
// no code in the app: one CLIENT span per S3 operation under the request that made it, and no
// duplicate HTTP CLIENT span for the SDK's own request.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan, byName, childrenOf, one, spanTree } from '../harness/otlp-receiver';
import { startFixture, VARIANTS, type FixtureResult } from '../harness/fixture';
import { startS3, type S3Server } from '../servers/s3';

const AWS_SCOPE = '@opentelemetry/instrumentation-aws-sdk';

let rx: OtlpReceiver;
let s3: S3Server;
beforeAll(async () => {
  [rx, s3] = await Promise.all([startOtlpReceiver(), startS3()]);
});
afterAll(async () => {
  await Promise.all([rx?.close(), s3?.close()]);
});

/**
 * Spans of one service, each once: the exit flush re-sends a batch whose export was still in
 * flight (at-least-once, see src/processor.ts), so the receiver may hold a span twice.
 */
function spansOf(service: string): RecvSpan[] {
  const seen = new Set<string>();
  return rx.spans().filter((s) => {
    const id = `${s.traceId}/${s.spanId}`;
    if (s.resource['service.name'] !== service || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

interface AppResult {
  missing: string;
  bodyMatches: boolean;
  headLength: number;
  listed: string[];
  bigSha256: string;
}

/** Runs the app once: it serves one POST /reports (doing all its S3 work in it) and exits. */
async function runApp(ext: string, service: string, bucket: string, secret: string, env: Record<string, string> = {}) {
  await s3.createBucket(bucket);
  const f = startFixture({
    fixture: `s3/app.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { ...s3.env(bucket), OTEL_SERVICE_NAME: service, SECRET_BODY: secret, ...env },
  });
  const port = (await f.ready).split(' ')[1];
  // The test process has no agent: this request only starts the app's SERVER span.
  const res = await fetch(`http://127.0.0.1:${port}/reports`, { method: 'POST' });
  const text = await res.text();
  const r: FixtureResult = await f.result;
  expect(res.status, `${text}\n${r.stderr}`).toBe(200);
  expect(r.code, r.stderr).toBe(0);
  const app = JSON.parse(text) as AppResult;
  const spans = spansOf(service);
  return { app, spans, stderr: r.stderr };
}

/** Everything the receiver got for these spans, as one string to search for leaks. */
const dump = (spans: RecvSpan[]): string => JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

function expectAppUnchanged(app: AppResult, secret: string) {
  expect(app.bodyMatches).toBe(true);
  expect(app.headLength).toBe(Buffer.byteLength(secret));
  expect(app.listed).toEqual(['reports/2024/summary.txt']);
  expect(app.missing).toBe('NoSuchKey');
}

describe.each(VARIANTS)('S3 client (%s)', (ext) => {
  it('makes one CLIENT span per operation under the SERVER span, and no HTTP CLIENT span for the SDK request', async () => {
    const service = `s3-${ext}`;
    const bucket = `traced-${ext}`;
    const secret = `TOPSECRET-${randomBytes(8).toString('hex')}`;
    const { app, spans } = await runApp(ext, service, bucket, secret);
    expectAppUnchanged(app, secret);

    const server = one(
      spans.filter((s) => s.kind === 'SERVER'),
      'POST /reports',
    );
    const aws = spans.filter((s) => s.scope.name === AWS_SCOPE);
    const tree = spanTree(spans);
    expect(
      aws.map((s) => s.name),
      tree,
    ).toEqual([
      'S3.PutObject',
      'S3.GetObject',
      'S3.HeadObject',
      'S3.ListObjectsV2',
      'S3.CreateMultipartUpload',
      'S3.UploadPart',
      'S3.UploadPart',
      'S3.UploadPart',
      'S3.CompleteMultipartUpload',
      'S3.DeleteObject',
      'S3.GetObject',
    ]);
    // Each operation is a direct child of the request that made it, in the same trace.
    expect(
      childrenOf(spans, server)
        .map((s) => s.spanId)
        .sort(),
    ).toEqual(aws.map((s) => s.spanId).sort());
    for (const s of aws) {
      expect(s.kind).toBe('CLIENT');
      expect(s.traceId).toBe(server.traceId);
      expect(s.parentSpanId).toBe(server.spanId);
      const method = s.name.slice('S3.'.length);
      expect(s.attributes).toMatchObject({
        'rpc.system': 'aws-api',
        'rpc.service': 'S3',
        'rpc.method': method,
        'aws.s3.bucket': bucket,
        'cloud.region': 'us-east-1',
      });
    }
    // The SDK's HTTP requests to s3rver are suppressed: the only spans are the S3 ones and the
    // incoming request (no fs spans either: the SDK reads nothing from disk with static credentials).
    expect(
      spans.filter((s) => s.kind === 'CLIENT' && s.scope.name !== AWS_SCOPE),
      tree,
    ).toEqual([]);
    expect(spans).toHaveLength(aws.length + 1);
    // ...and S3 itself receives no trace context.
    const received = s3.requests.filter((r) => r.url.startsWith(`/${bucket}`));
    expect(received).toHaveLength(aws.length);
    for (const r of received) expect(r.headers.traceparent).toBeUndefined();

    const [put, get, missing] = [one(aws, 'S3.PutObject'), byName(aws, 'S3.GetObject')[0]!, byName(aws, 'S3.GetObject')[1]!];
    expect(put.attributes['aws.s3.key']).toBe('reports/2024/summary.txt');
    expect(put.attributes['http.response.status_code']).toBe(200);
    expect(put.status.code).toBe('UNSET');
    // GetObject: the app read the streamed body to the end (bodyMatches) and the span ended.
    expect(get.attributes['aws.s3.key']).toBe('reports/2024/summary.txt');
    expect(get.status.code).toBe('UNSET');
    expect(get.endNs).toBeGreaterThan(get.startNs);
    expect(one(aws, 'S3.HeadObject').attributes['aws.s3.key']).toBe('reports/2024/summary.txt');
    expect(one(aws, 'S3.DeleteObject').attributes).toMatchObject({ 'aws.s3.key': 'reports/2024/summary.txt', 'http.response.status_code': 204 });
    expect(one(aws, 'S3.ListObjectsV2').attributes['aws.s3.key']).toBeUndefined();
    // A failed operation: ERROR status, the S3 error, the HTTP status.
    expect(missing.attributes).toMatchObject({ 'aws.s3.key': 'reports/missing.txt', 'http.response.status_code': 404 });
    expect(missing.status.code).toBe('ERROR');
    expect(missing.events.find((e) => e.name === 'exception')?.attributes['exception.type']).toBe('NoSuchKey');

    // Multipart upload via lib-storage: create, three parts in order, complete, all for one upload.
    const create = one(aws, 'S3.CreateMultipartUpload');
    const parts = byName(aws, 'S3.UploadPart');
    const complete = one(aws, 'S3.CompleteMultipartUpload');
    expect(create.attributes['aws.s3.key']).toBe('archive/big.bin');
    const uploadId = complete.attributes['aws.s3.upload_id'];
    expect(uploadId).toMatch(/^[0-9a-f]{16,}$/);
    expect(complete.attributes['aws.s3.key']).toBe('archive/big.bin');
    expect(parts.map((p) => p.attributes['aws.s3.part_number'])).toEqual([1, 2, 3]);
    for (const p of parts) expect(p.attributes).toMatchObject({ 'aws.s3.key': 'archive/big.bin', 'aws.s3.upload_id': uploadId });
    // The object arrived intact (no aws-chunked framing, nothing altered by the agent).
    const stored = await s3.objectBody(bucket, 'archive/big.bin');
    expect(stored && createHash('sha256').update(stored).digest('hex')).toBe(app.bigSha256);
    expect(await s3.keys(bucket)).toEqual(['archive/big.bin']);

    // Bodies and credentials never reach the exporter.
    const all = dump(spans);
    expect(all).not.toContain(secret);
    expect(all).not.toContain('S3RVER');
    expect(all).not.toContain('AWS4-HMAC-SHA256');
    expect(all).not.toMatch(/authorization/i);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=aws-sdk removes the S3 spans; the SERVER span stays and the raw HTTP requests appear instead', async () => {
    const service = `s3-off-${ext}`;
    const secret = `TOPSECRET-${randomBytes(8).toString('hex')}`;
    const { app, spans, stderr } = await runApp(ext, service, `untraced-${ext}`, secret, { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'aws-sdk' });
    expectAppUnchanged(app, secret);
    expect(stderr).not.toMatch(/warn|error/i);
    const tree = spanTree(spans);
    expect(
      spans.filter((s) => s.scope.name === AWS_SCOPE),
      tree,
    ).toEqual([]);
    expect(
      spans.filter((s) => /^S3\./.test(s.name)),
      tree,
    ).toEqual([]);
    const server = one(
      spans.filter((s) => s.kind === 'SERVER'),
      'POST /reports',
    );
    // Without the S3 instrumentation nothing suppresses the http one, so the SDK's eleven raw
    // requests show up as plain HTTP CLIENT spans: what a user gets with aws-sdk switched off.
    const http = spans.filter((s) => s.kind === 'CLIENT');
    expect(
      http.map((s) => s.attributes['http.request.method']),
      tree,
    ).toEqual(['PUT', 'GET', 'HEAD', 'GET', 'POST', 'PUT', 'PUT', 'PUT', 'POST', 'DELETE', 'GET']);
    const received = s3.requests.filter((r) => r.url.startsWith(`/untraced-${ext}`));
    expect(received.map((r) => r.method)).toEqual(http.map((s) => s.attributes['http.request.method']));
    http.forEach((s, i) => {
      expect(s.scope.name).toBe('@x/otel-agent/http');
      expect(s.parentSpanId).toBe(server.spanId);
      expect(received[i]!.headers.traceparent).toBe(`00-${s.traceId}-${s.spanId}-03`); // sampled, random trace id
    });
    expect(spans).toHaveLength(http.length + 1);
    const all = dump(spans);
    expect(all).not.toContain(secret);
    expect(all).not.toContain('S3RVER');
  });
});
