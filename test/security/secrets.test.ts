/**
 * Never exported by default: one request carries a distinct secret through
 * every instrumented path (incoming and outgoing HTTP, fetch, PostgreSQL,
 * MySQL, node-redis, ioredis, MongoDB, S3, Kafka, RabbitMQ), plus secrets in
 * the environment, the command line and the OTLP headers. None may appear in
 * anything exported (every attribute, event, link, status and resource value
 * of every span) or in the agent's own output, even at OTEL_LOG_LEVEL=debug.
 *
 * The test first checks that each path produced its spans: a scan of spans
 * that were never made would prove nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { VARIANTS } from '../harness/fixture';
import { killLeftovers, startTracked } from '../reliability/load';
import { requireServer } from '../harness/servers';
import { startS3, type S3Server } from '../servers/s3';
import { startKafkaBroker, type KafkaBroker } from '../servers/kafka-broker';
import { startMongoServer } from '../servers/mongo-server';

afterAll(killLeftovers);

const TAGS = [
  'authHeader',
  'cookie',
  'proxyAuth',
  'setCookie',
  'urlPassword',
  'signature',
  'credential',
  'token',
  'requestBody',
  'responseBody',
  'pgPassword',
  'sqlParam',
  'redisValue',
  'mongoValue',
  's3Body',
  's3Meta',
  'messageBody',
  'messageHeader',
  'envSecret',
  'argvSecret',
  'otlpHeader',
  'incomingQuery',
] as const;
type Secrets = Record<(typeof TAGS)[number], string>;

const newSecrets = (): Secrets => Object.fromEntries(TAGS.map((t) => [t, `${t}S3CRET${randomBytes(5).toString('hex')}`])) as Secrets;

let rx: OtlpReceiver;
let s3: S3Server;
let kafka: KafkaBroker;
let mongo: Awaited<ReturnType<typeof startMongoServer>>;
let sink: http.Server;
let sinkUrl: string;
let haveServers = false;
/** What the sink answers: a secret body and a Set-Cookie, per run. */
let sinkSecret = { body: '', cookie: '' };

beforeAll(async () => {
  const have = await Promise.all((['postgres', 'mariadb', 'redis', 'rabbitmq'] as const).map((s) => requireServer(s)));
  haveServers = have.every(Boolean);
  [rx, s3, kafka, mongo] = await Promise.all([startOtlpReceiver(), startS3(), startKafkaBroker(), startMongoServer()]);
  sink = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('set-cookie', `sid=${sinkSecret.cookie}`);
      res.end(JSON.stringify({ ok: true, echo: sinkSecret.body }));
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
});
afterAll(async () => {
  sink?.close();
  await Promise.all([rx?.close(), s3?.close(), kafka?.close(), mongo?.close()]);
});

/** Every string the receiver decoded for these spans: names, attributes, events, links, status, resource. */
function everything(spans: RecvSpan[]): string {
  return JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('latin1') : v));
}

const has = (spans: RecvSpan[], pred: (s: RecvSpan) => boolean, what: string): void => {
  expect(spans.some(pred), `expected a span for ${what}; got:\n${spans.map((s) => `${s.kind} ${s.name} [${s.scope.name}]`).join('\n')}`).toBe(true);
};

describe.each(VARIANTS)('no secret leaves the process by default (%s)', (ext) => {
  it("secrets sent through every instrumented path appear in no exported span and in none of the agent's output, even at debug level", async () => {
    if (!haveServers) return;
    const S = newSecrets();
    sinkSecret = { body: S.responseBody, cookie: S.setCookie };
    const bucket = `secrets-${ext}`;
    await s3.createBucket(bucket);
    const service = `secrets-${ext}`;
    const f = startTracked({
      fixture: `security/secrets.${ext}`,
      endpoint: rx.url,
      args: [`--api-key=${S.argvSecret}`],
      env: {
        OTEL_SERVICE_NAME: service,
        OTEL_LOG_LEVEL: 'debug',
        OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${S.otlpHeader}`,
        DATABASE_URL: `postgres://app:${S.envSecret}@db.internal:5432/shop`,
        SECRETS: JSON.stringify(S),
        SINK_URL: sinkUrl,
        KAFKA_BROKERS: kafka.brokers.join(','),
        MONGO_URL: mongo.uri,
        AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
        ...s3.env(bucket),
      },
      timeoutMs: 45_000,
    });
    const port = Number((await f.ready).split(' ')[1]);
    const res = await fetch(`http://127.0.0.1:${port}/order?token=${S.incomingQuery}&X-Amz-Signature=${S.signature}&page=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${S.authHeader}`, cookie: `session=${S.cookie}`, 'proxy-authorization': `Basic ${S.proxyAuth}` },
      body: JSON.stringify({ card: S.requestBody }),
    });
    const body = await res.text();
    const r = await f.result;
    expect(
      res.status,
      `${body}\n${r.stderr
        .split('\n')
        .filter((l) => !l.includes('debug:'))
        .join('\n')}`,
    ).toBe(200);
    expect(r.code).toBe(0);
    // The app did handle every secret (so the paths really carried them).
    const app = JSON.parse(body) as { db: string[]; obj: string; message: string; out: string };
    expect(app.db).toEqual([S.sqlParam, S.sqlParam, S.redisValue, S.redisValue, S.mongoValue]);
    expect(app.obj).toBe(S.s3Body);
    expect(app.message).toBe(S.messageBody);
    expect(app.out).toContain(S.responseBody);

    await rx.waitForSpans((all) => all.some((s) => s.resource['service.name'] === service && s.kind === 'SERVER'), 10_000);
    const spans = rx.spans().filter((s) => s.resource['service.name'] === service);
    const scope = (name: string) => (s: RecvSpan) => s.scope.name.includes(name);
    has(spans, (s) => s.kind === 'SERVER' && s.attributes['url.path'] === '/order', 'the incoming request');
    has(spans, (s) => scope('otel-agent/http')(s) && s.kind === 'CLIENT' && String(s.attributes['url.full']).includes('/callback'), 'outgoing http');
    has(spans, (s) => scope('undici')(s) && s.kind === 'CLIENT', 'fetch');
    has(spans, (s) => s.attributes['db.system.name'] === 'postgresql' && s.name !== 'pg.connect', 'PostgreSQL queries');
    has(spans, (s) => scope('mysql2')(s), 'MySQL queries');
    has(spans, (s) => s.scope.name === '@x/otel-agent/redis', 'node-redis commands');
    has(spans, (s) => scope('ioredis')(s), 'ioredis commands');
    has(spans, (s) => scope('mongodb')(s), 'MongoDB commands');
    has(spans, (s) => scope('aws-sdk')(s) && s.name.includes('PutObject'), 'S3 PutObject');
    has(spans, (s) => scope('kafkajs')(s) && s.kind === 'PRODUCER', 'Kafka produce');
    has(spans, (s) => scope('amqplib')(s) && s.kind === 'PRODUCER', 'RabbitMQ publish');

    const exported = everything(spans);
    const outputs = { exported, stderr: r.stderr, stdout: r.stdout };
    const leaks: string[] = [];
    for (const [where, text] of Object.entries(outputs)) {
      for (const t of TAGS)
        if (text.includes(S[t])) leaks.push(`${t} in ${where}: …${text.slice(Math.max(0, text.indexOf(S[t]) - 120), text.indexOf(S[t]) + 40)}…`);
      // RabbitMQ's fixed credentials: the password never shows, whatever the attribute.
      if (/guest:guest@|:guest@/.test(text)) leaks.push(`the AMQP password in ${where}`);
    }
    expect(leaks).toEqual([]);
    // Debug level really was on: the scan covered the agent's most talkative output.
    expect(r.stderr).toContain('[otel-agent] debug:');
  });
});
