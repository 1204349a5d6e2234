/**
 * Trace context that arrives inside messages and task payloads rather than
 * HTTP headers: Kafka record headers (kafkajs instrumentation) and the
 * `_otel` carrier OTEL_AGENT_QUEUE_HOOKS reads from a task. Malformed,
 * oversized and hostile values (binary, 1 MB, arrays, objects whose getters
 * throw, cycles, prototype-pollution keys) must not change what the app's
 * code returns, must start a new trace when invalid, and must not make memory
 * grow with their number.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { startKafkaBroker, type KafkaBroker } from '../servers/kafka-broker';

const TID = '0af7651916cd43dd8448eb211c80319c';
const SID = 'b7ad6b7169203331';
const TP = `00-${TID}-${SID}-01`;

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const of = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);
const agentLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('[otel-agent]'));

describe.each(VARIANTS)('hostile trace context in Kafka record headers (%s)', (ext) => {
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafkaBroker();
  });
  afterAll(async () => {
    await broker.close();
  });

  const RECORDS: { key: string; headers: Record<string, string | Buffer | (string | Buffer)[]>; expect: 'continued' | 'root' }[] = [
    { key: 'control', headers: { traceparent: TP }, expect: 'continued' },
    { key: 'garbage', headers: { traceparent: 'garbage' }, expect: 'root' },
    { key: 'binary', headers: { traceparent: randomBytes(55), tracestate: randomBytes(64), baggage: randomBytes(64) }, expect: 'root' },
    { key: 'traceparent-100kb', headers: { traceparent: `${TP}-${'x'.repeat(100 * 1024)}` }, expect: 'root' },
    { key: 'zero-ids', headers: { traceparent: `00-${'0'.repeat(32)}-${'0'.repeat(16)}-01` }, expect: 'root' },
    { key: 'tracestate-10kb', headers: { traceparent: TP, tracestate: `v=${'a'.repeat(10 * 1024)}` }, expect: 'continued' },
    { key: 'baggage-10kb', headers: { baggage: Array.from({ length: 1400 }, (_, i) => `k${i}=v`).join(',') }, expect: 'root' },
    { key: 'many-headers', headers: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`h${i}`, 'v'])), expect: 'root' },
  ];

  it('every record is consumed normally; invalid context starts a new trace, valid context is continued', async () => {
    const kafka = new Kafka({ clientId: 'hostile-producer', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'hostile', messages: RECORDS.map((r) => ({ key: r.key, value: `payload of ${r.key}`, headers: r.headers })) });
    await producer.disconnect();

    const service = `kafka-hostile-${ext}`;
    const r = await runFixture({
      fixture: `reliability/kafka-consumer.${ext}`,
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service, KAFKA_BROKERS: broker.brokers.join(','), KAFKA_EXPECT: String(RECORDS.length) },
      timeoutMs: 30_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith('MSG '))
        .sort(),
    ).toEqual(RECORDS.map((x) => `MSG ${x.key} ${`payload of ${x.key}`.length}`).sort());
    expect(agentLines(r.stderr)).toEqual([]);
    const consumers = of(service).filter((s) => s.kind === 'CONSUMER');
    const failures: string[] = [];
    for (const rec of RECORDS) {
      const s = consumers.find((c) => c.attributes['messaging.kafka.message.key'] === rec.key);
      if (!s) {
        failures.push(`${rec.key}: no CONSUMER span`);
        continue;
      }
      const continued = s.traceId === TID && s.parentSpanId === SID;
      if (continued !== (rec.expect === 'continued'))
        failures.push(`${rec.key}: expected ${rec.expect}, got trace ${s.traceId} parent ${s.parentSpanId || '(none)'}`);
      if (rec.expect === 'root' && s.traceId === TID) failures.push(`${rec.key}: reused the hostile trace id`);
    }
    expect(failures).toEqual([]);
  });
});

describe.each(VARIANTS)('hostile `_otel` carriers in OTEL_AGENT_QUEUE_HOOKS task payloads (%s)', (ext) => {
  it('every task returns what the app returns, valid context is continued, the rest start new traces, no prototype pollution, bounded memory', async () => {
    const service = `tasks-hostile-${ext}`;
    const r = await runFixture({
      fixture: `reliability/tasks-app.${ext}`,
      nodeArgs: ['--expose-gc'],
      args: ['300'],
      endpoint: rx.url,
      env: {
        OTEL_SERVICE_NAME: service,
        OTEL_AGENT_QUEUE_HOOKS: `./test/fixtures/reliability/tasks/worker.${ext}#execute=execute(arg0, id=arg0.id)`,
        // 3300 tasks leave thousands of spans for the exit flush (the queue holds 8192); on a loaded
        // machine the default 2 s budget can run out, which is lifecycle.test.ts's subject, not this one's.
        OTEL_AGENT_FLUSH_TIMEOUT: '20000',
      },
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const results = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('RESULT '))
      .map((l) => l.split(' '));
    expect(results.length).toBe(13);
    for (const [, id, ...rest] of results) expect(rest.join(' '), id).toBe(`done ${id}`);
    expect(r.stdout).toContain('POLLUTED undefined');

    // Objects whose getters throw make the upstream propagators say so through the diagnostics channel:
    // one rate-limited line per propagator however many such tasks run, never one per task.
    // (3300 tasks in a tight loop also outrun the exporter: the queue-full line, once.)
    const lines = agentLines(r.stderr);
    const extract = lines.filter((l) => /Failed to extract with (W3CTraceContextPropagator|W3CBaggagePropagator)\. Err: hostile get$/.test(l));
    const queue = lines.filter((l) => l.includes('span queue full'));
    expect(extract.length + queue.length, r.stderr).toBe(lines.length);
    expect(extract.length).toBeLessThanOrEqual(2);
    expect(queue.length).toBeLessThanOrEqual(1);

    await rx.waitForSpans(() => of(service).filter((s) => s.kind === 'CONSUMER').length >= 13, 10_000);
    const first = new Map<string, RecvSpan>();
    for (const s of of(service).filter((x) => x.kind === 'CONSUMER')) {
      const id = String(s.attributes['messaging.message.id']);
      if (!first.has(id)) first.set(id, s);
    }
    // W3C fields read from an object: only a string is parsed; an array, a number, an object is no context.
    const continued = new Set(['control', 'null-prototype-carrier', 'tracestate-1mb']);
    const failures: string[] = [];
    for (const [, id] of results) {
      const s = first.get(id!);
      if (!s) {
        failures.push(`${id}: no CONSUMER span`);
        continue;
      }
      const isContinued = s.traceId === TID && s.parentSpanId === SID;
      if (isContinued !== continued.has(id!)) failures.push(`${id}: ${isContinued ? 'continued' : 'new trace'}`);
    }
    expect(failures).toEqual([]);

    const heap = r.stdout
      .split('\n')
      .find((l) => l.startsWith('HEAP '))!
      .split(' ')
      .slice(1)
      .map(Number);
    // 300 rounds of 11 hostile tasks (several carrying 1 MB strings) between the two later readings:
    // what the agent keeps is its bounded span queue, which is already full by the first of them.
    expect(heap[2]! - heap[1]!, `heap after GC: ${heap.join(' -> ')}`).toBeLessThan(2 * 1024 * 1024);
  });
});
