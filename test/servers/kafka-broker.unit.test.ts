// Exercises the in-memory Kafka broker with the real kafkajs client (no tracing involved).
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes, Kafka, logLevel, type Consumer, type ConsumerConfig, type EachMessagePayload, type IHeaders } from 'kafkajs';
import { startKafkaBroker, type KafkaBroker } from './kafka-broker';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/** Client options that keep joins/rebalances fast against the test broker. */
const FAST_CONSUMER: Omit<ConsumerConfig, 'groupId'> = {
  heartbeatInterval: 100,
  sessionTimeout: 6000,
  rebalanceTimeout: 5000,
  maxWaitTimeInMs: 200,
  retry: { initialRetryTime: 50, retries: 10 },
};

interface Received {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: IHeaders;
}

const toReceived = ({ topic, partition, message }: EachMessagePayload): Received => ({
  topic,
  partition,
  offset: message.offset,
  key: message.key ? message.key.toString() : null,
  value: message.value ? message.value.toString() : null,
  headers: message.headers ?? {},
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const byPosition = (a: Received, b: Received): number => a.topic.localeCompare(b.topic) || a.partition - b.partition || Number(a.offset) - Number(b.offset);

let broker: KafkaBroker;
let kafka: Kafka;
const cleanups: Array<() => Promise<void>> = [];

function client(target: KafkaBroker, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: target.brokers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 5 },
  });
}

async function producer(k = kafka) {
  const p = k.producer();
  await p.connect();
  cleanups.push(() => p.disconnect());
  return p;
}

async function admin(k = kafka) {
  const a = k.admin();
  await a.connect();
  cleanups.push(() => a.disconnect());
  return a;
}

function consumer(groupId: string, k = kafka): Consumer {
  const c = k.consumer({ groupId, ...FAST_CONSUMER });
  cleanups.push(() => c.disconnect());
  return c;
}

/** Starts a consumer that records every message (and its latest assignment). */
async function collectingConsumer(groupId: string, topic: string, k = kafka) {
  const c = consumer(groupId, k);
  const received: Received[] = [];
  const joins: Array<Record<string, number[]>> = [];
  c.on(c.events.GROUP_JOIN, (e) => joins.push(e.payload.memberAssignment));
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({ eachMessage: async (payload) => void received.push(toReceived(payload)) });
  return { consumer: c, received, joins };
}

beforeAll(async () => {
  broker = await startKafkaBroker();
  kafka = client(broker, 'broker-test');
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await broker.close();
});

describe('in-memory kafka broker', () => {
  it('listens on an OS-chosen port and advertises it', async () => {
    expect(broker.host).toBe('127.0.0.1');
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.brokers).toEqual([`127.0.0.1:${broker.port}`]);
    const a = await admin();
    const cluster = await a.describeCluster();
    expect(cluster.brokers).toEqual([{ nodeId: 0, host: '127.0.0.1', port: broker.port }]);
    expect(cluster.controller).toBe(0);
  });

  it('creates topics with the requested number of partitions', async () => {
    const a = await admin();
    expect(await a.createTopics({ topics: [{ topic: 'created', numPartitions: 2 }] })).toBe(true);
    // already exists: kafkajs reports false instead of throwing
    expect(await a.createTopics({ topics: [{ topic: 'created', numPartitions: 2 }] })).toBe(false);
    const { topics } = await a.fetchTopicMetadata({ topics: ['created'] });
    expect(topics).toHaveLength(1);
    expect(topics[0]!.name).toBe('created');
    expect(topics[0]!.partitions.map((p) => [p.partitionId, p.leader]).sort()).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(await a.fetchTopicOffsets('created')).toEqual(
      expect.arrayContaining([
        { partition: 0, offset: '0', high: '0', low: '0' },
        { partition: 1, offset: '0', high: '0', low: '0' },
      ]),
    );
    expect(await a.listTopics()).toContain('created');
  });

  it('stores send and sendBatch records with offsets and headers', async () => {
    const a = await admin();
    await a.createTopics({ topics: [{ topic: 'produced', numPartitions: 2 }] });
    const p = await producer();
    const binary = Buffer.from([0x00, 0x01, 0xfe, 0xff]);

    const sent = await p.send({
      topic: 'produced',
      messages: [
        { partition: 0, key: 'k0', value: 'v0', headers: { 'x-bin': binary, 'x-str': 'abc' } },
        { partition: 1, value: 'v1' },
        { partition: 0, value: 'v2' },
      ],
    });
    expect(sent.map((m) => [m.topicName, m.partition, m.errorCode, m.baseOffset]).sort()).toEqual([
      ['produced', 0, 0, '0'],
      ['produced', 1, 0, '0'],
    ]);

    const batch = await p.sendBatch({
      topicMessages: [
        { topic: 'produced', messages: [{ partition: 1, value: 'v3', headers: { multi: ['a', 'b'] } }] },
        { topic: 'auto-created', messages: [{ value: 'o0' }] }, // auto-created through Metadata
      ],
    });
    expect(batch.map((m) => [m.topicName, m.partition, m.baseOffset]).sort()).toEqual([
      ['auto-created', 0, '0'],
      ['produced', 1, '1'],
    ]);

    const stored = broker.messages('produced');
    expect(stored.map((r) => [r.partition, r.offset, r.value?.toString()])).toEqual([
      [0, 0, 'v0'],
      [0, 1, 'v2'],
      [1, 0, 'v1'],
      [1, 1, 'v3'],
    ]);
    expect(stored[0]!.key?.toString()).toBe('k0');
    expect(stored[0]!.headers).toEqual([
      { key: 'x-bin', value: binary },
      { key: 'x-str', value: Buffer.from('abc') },
    ]);
    expect(stored[3]!.headers).toEqual([
      { key: 'multi', value: Buffer.from('a') },
      { key: 'multi', value: Buffer.from('b') },
    ]);
    expect(broker.messages('produced', 1).map((r) => r.value?.toString())).toEqual(['v1', 'v3']);
    expect(broker.messages('auto-created').map((r) => r.value?.toString())).toEqual(['o0']);
    expect(await a.fetchTopicOffsets('produced')).toEqual(
      expect.arrayContaining([
        { partition: 0, offset: '2', high: '2', low: '0' },
        { partition: 1, offset: '2', high: '2', low: '0' },
      ]),
    );
  });

  it('delivers every message to an eachMessage consumer group with headers intact and resumes from committed offsets', async () => {
    const a = await admin();
    await a.createTopics({ topics: [{ topic: 'each-message', numPartitions: 2 }] });
    const p = await producer();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await p.send({
      topic: 'each-message',
      messages: [0, 1, 2, 3].map((i) => ({
        partition: i % 2,
        key: `key-${i}`,
        value: `value-${i}`,
        headers: { traceparent, seq: Buffer.from([i, 0xff]) },
      })),
    });

    const first = await collectingConsumer('group-each', 'each-message');
    await waitFor(() => first.received.length >= 4, '4 messages');
    // produced after the consumer is already polling: wakes the long-polling Fetch
    await p.send({ topic: 'each-message', messages: [{ partition: 1, value: 'late', headers: { traceparent } }] });
    await waitFor(() => first.received.length >= 5, 'late message');

    expect(first.received.sort(byPosition)).toEqual([
      {
        topic: 'each-message',
        partition: 0,
        offset: '0',
        key: 'key-0',
        value: 'value-0',
        headers: { traceparent: Buffer.from(traceparent), seq: Buffer.from([0, 0xff]) },
      },
      {
        topic: 'each-message',
        partition: 0,
        offset: '1',
        key: 'key-2',
        value: 'value-2',
        headers: { traceparent: Buffer.from(traceparent), seq: Buffer.from([2, 0xff]) },
      },
      {
        topic: 'each-message',
        partition: 1,
        offset: '0',
        key: 'key-1',
        value: 'value-1',
        headers: { traceparent: Buffer.from(traceparent), seq: Buffer.from([1, 0xff]) },
      },
      {
        topic: 'each-message',
        partition: 1,
        offset: '1',
        key: 'key-3',
        value: 'value-3',
        headers: { traceparent: Buffer.from(traceparent), seq: Buffer.from([3, 0xff]) },
      },
      { topic: 'each-message', partition: 1, offset: '2', key: null, value: 'late', headers: { traceparent: Buffer.from(traceparent) } },
    ]);
    expect(first.joins).toEqual([{ 'each-message': [0, 1] }]);

    await first.consumer.disconnect(); // commits offsets and leaves the group
    const committed = await a.fetchOffsets({ groupId: 'group-each', topics: ['each-message'] });
    expect(committed[0]!.partitions.map((x) => [x.partition, x.offset]).sort()).toEqual([
      [0, '2'],
      [1, '3'],
    ]);

    // A new member of the same group starts from the committed offsets, not from the beginning.
    const second = await collectingConsumer('group-each', 'each-message');
    await waitFor(() => second.joins.length === 1, 'second consumer join');
    await p.send({ topic: 'each-message', messages: [{ partition: 0, value: 'after-restart' }] });
    await waitFor(() => second.received.length >= 1, 'message after restart');
    await new Promise((resolve) => setTimeout(resolve, 300)); // would expose re-deliveries
    expect(second.received.map((r) => [r.partition, r.offset, r.value])).toEqual([[0, '2', 'after-restart']]);
  });

  it('supports eachBatch consumers, GZIP batches and acks=0', async () => {
    const p = await producer();
    await p.send({
      topic: 'each-batch',
      compression: CompressionTypes.GZIP,
      messages: [0, 1, 2].map((i) => ({ value: `gz-${i}`, headers: { n: String(i) } })),
    });
    await p.send({ topic: 'each-batch', acks: 0, messages: [{ value: 'fire-and-forget' }] });
    await waitFor(() => broker.messages('each-batch').length === 4, 'acks=0 message stored');
    expect(broker.messages('each-batch').map((r) => [r.offset, r.value?.toString(), r.headers.map((h) => h.key)])).toEqual([
      [0, 'gz-0', ['n']],
      [1, 'gz-1', ['n']],
      [2, 'gz-2', ['n']],
      [3, 'fire-and-forget', []],
    ]);

    const c = consumer('group-batch');
    const batches: Array<{ partition: number; first: string; last: string; hw: string; values: string[]; headers: string[] }> = [];
    await c.connect();
    await c.subscribe({ topic: 'each-batch', fromBeginning: true });
    await c.run({
      eachBatch: async ({ batch, resolveOffset }) => {
        batches.push({
          partition: batch.partition,
          first: batch.firstOffset() ?? '',
          last: batch.lastOffset(),
          hw: batch.highWatermark,
          values: batch.messages.map((m) => m.value?.toString() ?? ''),
          headers: batch.messages.map((m) => m.headers?.n?.toString() ?? '-'),
        });
        for (const m of batch.messages) resolveOffset(m.offset);
      },
    });
    await waitFor(() => batches.flatMap((b) => b.values).length >= 4, 'batch delivery');
    expect(batches[0]).toEqual({
      partition: 0,
      first: '0',
      last: '3',
      hw: '4',
      values: ['gz-0', 'gz-1', 'gz-2', 'fire-and-forget'],
      headers: ['0', '1', '2', '-'],
    });
  });

  it('rebalances partitions when a second member joins and when it leaves', async () => {
    const a = await admin();
    await a.createTopics({ topics: [{ topic: 'rebalance', numPartitions: 2 }] });
    const p = await producer();
    await p.send({
      topic: 'rebalance',
      messages: [
        { partition: 0, value: 'a0' },
        { partition: 1, value: 'a1' },
      ],
    });

    const first = await collectingConsumer('group-rebalance', 'rebalance');
    await waitFor(() => first.received.length >= 2, 'initial messages');
    expect(first.joins).toEqual([{ rebalance: [0, 1] }]);

    const second = await collectingConsumer('group-rebalance', 'rebalance');
    await waitFor(() => second.joins.length === 1 && first.joins.length === 2, 'rebalance after join');
    const ownerA = first.joins[1]!.rebalance ?? [];
    const ownerB = second.joins[0]!.rebalance ?? [];
    expect([ownerA.length, ownerB.length]).toEqual([1, 1]);
    expect([...ownerA, ...ownerB].sort()).toEqual([0, 1]);

    await p.send({
      topic: 'rebalance',
      messages: [
        { partition: 0, value: 'b0' },
        { partition: 1, value: 'b1' },
      ],
    });
    await waitFor(() => first.received.length + second.received.length >= 4, 'messages after rebalance');
    const ofRound = (list: Received[], prefix: string) => list.filter((r) => r.value?.startsWith(prefix)).map((r) => r.partition);
    expect(ofRound(first.received, 'b')).toEqual(ownerA);
    expect(ofRound(second.received, 'b')).toEqual(ownerB);
    expect(ofRound(second.received, 'a')).toEqual([]); // committed before the rebalance: not re-delivered

    await second.consumer.disconnect(); // LeaveGroup: the first member takes both partitions back
    await waitFor(() => first.joins.length === 3, 'rebalance after leave');
    expect(first.joins[2]).toEqual({ rebalance: [0, 1] });
    await p.send({
      topic: 'rebalance',
      messages: [
        { partition: 0, value: 'c0' },
        { partition: 1, value: 'c1' },
      ],
    });
    await waitFor(() => ofRound(first.received, 'c').length === 2, 'messages after leave');
    expect(ofRound(first.received, 'c').sort()).toEqual([0, 1]);
  });

  it('long-polls Fetch instead of busy-looping, and wakes up when data arrives', async () => {
    const c = kafka.consumer({ groupId: 'group-poll', ...FAST_CONSUMER, maxWaitTimeInMs: 1500 });
    cleanups.push(() => c.disconnect());
    const received: Array<{ value: string; at: number }> = [];
    let joined = false;
    c.on(c.events.GROUP_JOIN, () => void (joined = true));
    await c.connect();
    await c.subscribe({ topic: 'poll', fromBeginning: true });
    await c.run({ eachMessage: async ({ message }) => void received.push({ value: String(message.value), at: Date.now() }) });
    await waitFor(() => joined && (broker.requestCounts.Fetch ?? 0) > 0, 'consumer polling');

    const fetches = (): number => broker.requestCounts.Fetch ?? 0;
    const fetchesBefore = fetches();
    await new Promise((resolve) => setTimeout(resolve, 700));
    // at most one fetch is answered per 1.5 s wait; a busy loop would issue dozens
    expect(fetches() - fetchesBefore).toBeLessThanOrEqual(1);

    const p = await producer();
    // Send right after a new Fetch started: without the wake-up it would wait its full 1.5 s.
    const fetchesNow = fetches();
    await waitFor(() => fetches() > fetchesNow, 'next fetch');
    const sentAt = Date.now();
    await p.send({ topic: 'poll', messages: [{ value: 'wake-up' }] });
    await waitFor(() => received.length === 1, 'woken fetch');
    expect(received[0]!.value).toBe('wake-up');
    expect(received[0]!.at - sentAt).toBeLessThan(750);
  });

  it('keeps separate broker instances isolated', async () => {
    const other = await startKafkaBroker();
    try {
      expect(other.port).not.toBe(broker.port);
      const otherKafka = client(other, 'other-client');
      await (await producer()).send({ topic: 'isolated', messages: [{ value: 'on-first' }] });
      await (await producer(otherKafka)).send({ topic: 'isolated', messages: [{ value: 'on-second' }, { value: 'again' }] });

      expect(broker.messages('isolated').map((r) => r.value?.toString())).toEqual(['on-first']);
      expect(other.messages('isolated').map((r) => r.value?.toString())).toEqual(['on-second', 'again']);

      // The same group id on both brokers: two independent groups, each seeing only its own log.
      const one = await collectingConsumer('group-isolated', 'isolated');
      const two = await collectingConsumer('group-isolated', 'isolated', otherKafka);
      await waitFor(() => one.received.length >= 1 && two.received.length >= 2, 'isolated consumption');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(one.received.map((r) => [r.offset, r.value])).toEqual([['0', 'on-first']]);
      expect(two.received.map((r) => [r.offset, r.value])).toEqual([
        ['0', 'on-second'],
        ['1', 'again'],
      ]);
      expect(one.joins).toEqual([{ isolated: [0] }]);
      expect(two.joins).toEqual([{ isolated: [0] }]);
    } finally {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      await other.close();
    }
  });

  it('close() ends pending long-polls and connections promptly', async () => {
    const doomed = await startKafkaBroker();
    const p = await producer(client(doomed, 'doomed'));
    await p.send({ topic: 'doomed', messages: [{ value: 'x' }] });
    await p.disconnect();

    // Hand-written Fetch v4 request at the log end, waiting up to 20 s for data.
    const i16 = (v: number) => Buffer.from([(v >> 8) & 0xff, v & 0xff]);
    const i32 = (v: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(v);
      return b;
    };
    const str = (s: string) => Buffer.concat([i16(Buffer.byteLength(s)), Buffer.from(s)]);
    const body = Buffer.concat([
      i16(1),
      i16(4),
      i32(7),
      str('probe'), // api key Fetch, version 4, correlation id, client id
      i32(-1),
      i32(20_000),
      i32(1),
      i32(1 << 20),
      Buffer.from([0]), // replica, max wait, min/max bytes, isolation
      i32(1),
      str('doomed'),
      i32(1),
      i32(0),
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]),
      i32(1 << 20), // offset 1 = log end
    ]);
    const frame = Buffer.concat([i32(body.length), body]);

    const socket = connect(doomed.port, doomed.host);
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const socketClosed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(frame);
    await waitFor(() => (doomed.requestCounts.Fetch ?? 0) === 1, 'fetch to arrive');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual([]); // still long-polling

    const started = Date.now();
    await doomed.close();
    await socketClosed;
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(new Promise((resolve, reject) => connect(doomed.port, doomed.host).on('connect', resolve).on('error', reject))).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});
