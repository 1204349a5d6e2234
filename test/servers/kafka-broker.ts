/**
 * In-memory, single-node Kafka broker for tests (node id 0), speaking just enough of the
 * Kafka wire protocol for the real `kafkajs` client (v2.x): producers, admin.createTopics and
 * consumer groups.
 *
 * Implements (one version each, advertised through ApiVersions so kafkajs negotiates exactly it):
 *   ApiVersions v0-2, Metadata v4 (auto-creates topics with 1 partition), CreateTopics v1,
 *   Produce v3 (acks 0/1/-1, RecordBatch magic 2, uncompressed or GZIP), Fetch v4 (long-polls up
 *   to max_wait_time until min_bytes are available), ListOffsets v2, FindCoordinator v1,
 *   JoinGroup v2, SyncGroup v1, Heartbeat v1, LeaveGroup v1, OffsetCommit v2, OffsetFetch v2.
 *
 * Does NOT implement: SASL/TLS, replication, retention/compaction, transactions and idempotent
 * producers (InitProducerId), DescribeGroups/ListGroups/DeleteTopics and other admin APIs,
 * message formats older than magic 2, CRC validation, quotas, incremental fetch sessions.
 * Record batches are stored as produced (only their base offset is rewritten) and served back
 * verbatim, so Snappy/LZ4/ZSTD batches round-trip too, but only uncompressed and GZIP batches
 * can be inspected through `messages()`. ListOffsets by timestamp is batch-granular.
 *
 * Group coordinator (simplified Kafka semantics): a join moves the group to PreparingRebalance;
 * the join completes when every known member has re-joined (others learn about it from
 * REBALANCE_IN_PROGRESS heartbeats) or the rebalance timeout removes the laggards. Each completed
 * join bumps the generation; the first member (kept while it stays) is the leader, and SyncGroup
 * hands the leader's assignments to every member. Members whose session timeout expires without
 * a heartbeat are removed, which triggers a rebalance.
 */
import { createServer, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

export interface KafkaBrokerOptions {
  /** Address to listen on and to advertise. Default 127.0.0.1. */
  host?: string;
  /** Create unknown topics (1 partition) when a Metadata request allows it. Default true. */
  autoCreateTopics?: boolean;
}

export interface StoredRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<{ key: string; value: Buffer | null }>;
}

export interface KafkaBroker {
  host: string;
  port: number;
  /** `['host:port']`, ready for `new Kafka({ brokers })`. */
  brokers: string[];
  /** Records stored for a topic (all partitions, or one), decoded; in partition/offset order. */
  messages(topic: string, partition?: number): StoredRecord[];
  /** Live count of requests received, by API name (e.g. `requestCounts.Fetch`). */
  requestCounts: Record<string, number>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Protocol constants

const API_NAMES: Record<number, string> = {
  0: 'Produce',
  1: 'Fetch',
  2: 'ListOffsets',
  3: 'Metadata',
  8: 'OffsetCommit',
  9: 'OffsetFetch',
  10: 'FindCoordinator',
  11: 'JoinGroup',
  12: 'Heartbeat',
  13: 'LeaveGroup',
  14: 'SyncGroup',
  18: 'ApiVersions',
  19: 'CreateTopics',
};
/** [min, max] version per API key; the handlers below implement exactly these. */
const VERSIONS: Record<number, [number, number]> = {
  0: [3, 3],
  1: [4, 4],
  2: [2, 2],
  3: [4, 4],
  8: [2, 2],
  9: [2, 2],
  10: [1, 1],
  11: [2, 2],
  12: [1, 1],
  13: [1, 1],
  14: [1, 1],
  18: [0, 2],
  19: [1, 1],
};

const ERR = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_TOPIC: 17,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  UNKNOWN_MEMBER_ID: 25,
  REBALANCE_IN_PROGRESS: 27,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
} as const;

// RecordBatch (magic 2) header layout: byte offsets of the fields we use.
const BATCH = { length: 8, magic: 16, attributes: 21, lastOffsetDelta: 23, firstTimestamp: 27, maxTimestamp: 35, recordCount: 57, records: 61 };

// ---------------------------------------------------------------------------------------------
// Wire encoding helpers

class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos = 0,
  ) {}
  int8(): number {
    const v = this.buf.readInt8(this.pos);
    this.pos += 1;
    return v;
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): number {
    const v = Number(this.buf.readBigInt64BE(this.pos));
    this.pos += 8;
    return v;
  }
  bool(): boolean {
    return this.int8() !== 0;
  }
  nullableString(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  string(): string {
    return this.nullableString() ?? '';
  }
  bytes(): Buffer | null {
    return this.take(this.int32());
  }
  /** An array; a null (-1) array reads as null. */
  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const n = this.int32();
    if (n < 0) return null;
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }
  array<T>(item: (r: Reader) => T): T[] {
    return this.nullableArray(item) ?? [];
  }
  /** Zig-zag varint/varlong (exact up to 2^53). */
  varint(): number {
    let raw = 0;
    let scale = 1;
    let byte: number;
    do {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      byte = this.buf[this.pos++]!;
      raw += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }
  varBytes(): Buffer | null {
    return this.take(this.varint());
  }
  private take(n: number): Buffer | null {
    if (n < 0) return null;
    if (this.pos + n > this.buf.length) throw new Error('truncated field');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

class Writer {
  private readonly chunks: Buffer[] = [];
  private fixed(size: number, write: (b: Buffer) => void): this {
    const b = Buffer.allocUnsafe(size);
    write(b);
    this.chunks.push(b);
    return this;
  }
  int8(v: number): this {
    return this.fixed(1, (b) => b.writeInt8(v));
  }
  int16(v: number): this {
    return this.fixed(2, (b) => b.writeInt16BE(v));
  }
  int32(v: number): this {
    return this.fixed(4, (b) => b.writeInt32BE(v));
  }
  int64(v: number): this {
    return this.fixed(8, (b) => b.writeBigInt64BE(BigInt(v)));
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    return this.int16(b.length).raw(b);
  }
  bytes(b: Buffer | null): this {
    return b === null ? this.int32(-1) : this.int32(b.length).raw(b);
  }
  raw(b: Buffer): this {
    this.chunks.push(b);
    return this;
  }
  array<T>(items: readonly T[], item: (w: Writer, v: T, index: number) => void): this {
    this.int32(items.length);
    items.forEach((v, i) => item(this, v, i));
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

// ---------------------------------------------------------------------------------------------
// Broker state

interface Batch {
  base: number;
  last: number;
  maxTimestamp: number;
  data: Buffer;
  records: StoredRecord[] | null;
}
interface PartitionLog {
  batches: Batch[];
  next: number;
}

interface Member {
  id: string;
  sessionTimeout: number;
  rebalanceTimeout: number;
  protocols: Array<{ name: string; metadata: Buffer }>;
  lastSeen: number;
  assignment: Buffer;
  pendingJoin?: (body: Buffer) => void;
  pendingSync?: (body: Buffer) => void;
}

interface Group {
  state: 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';
  generation: number;
  leader: string;
  protocol: string;
  members: Map<string, Member>;
  rebalanceDeadline: number;
}

const EMPTY = Buffer.alloc(0);
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Decodes the records of a magic-2 batch whose base offset is already set. */
function decodeBatch(data: Buffer, topic: string, partition: number): StoredRecord[] | null {
  const codec = data.readInt16BE(BATCH.attributes) & 0x07;
  let body = data.subarray(BATCH.records);
  if (codec === 1) body = gunzipSync(body);
  else if (codec !== 0) return null; // Snappy/LZ4/ZSTD: stored and served, but not inspectable
  const base = Number(data.readBigInt64BE(0));
  const firstTimestamp = Number(data.readBigInt64BE(BATCH.firstTimestamp));
  const r = new Reader(body);
  const out: StoredRecord[] = [];
  for (let i = data.readInt32BE(BATCH.recordCount); i > 0; i--) {
    const length = r.varint();
    const end = r.pos + length;
    r.int8(); // record attributes (unused)
    const timestamp = firstTimestamp + r.varint();
    const offset = base + r.varint();
    const key = r.varBytes();
    const value = r.varBytes();
    const headers: StoredRecord['headers'] = [];
    for (let h = r.varint(); h > 0; h--) {
      const hk = r.varBytes();
      headers.push({ key: hk ? hk.toString('utf8') : '', value: r.varBytes() });
    }
    if (r.pos !== end) throw new Error('record length mismatch');
    out.push({ topic, partition, offset, timestamp, key, value, headers });
  }
  return out;
}

export async function startKafkaBroker(opts: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const host = opts.host ?? '127.0.0.1';
  const autoCreate = opts.autoCreateTopics ?? true;
  let port = 0;
  let closed = false;
  const topics = new Map<string, PartitionLog[]>();
  const groups = new Map<string, Group>();
  const committed = new Map<string, Map<string, { offset: number; metadata: string }>>();
  const dataWaiters = new Set<() => void>();
  const sockets = new Set<Socket>();
  const requestCounts: Record<string, number> = {};

  const wakeFetchers = (): void => {
    for (const wake of [...dataWaiters]) wake();
  };

  function createTopic(name: string, partitions: number): void {
    topics.set(
      name,
      Array.from({ length: partitions }, () => ({ batches: [], next: 0 })),
    );
  }

  function partitionLog(topic: string, partition: number): PartitionLog | undefined {
    return topics.get(topic)?.[partition];
  }

  /** Appends the record batches of a Produce record set; returns the first assigned offset. */
  function append(topic: string, partition: number, log: PartitionLog, recordSet: Buffer): number {
    const base = log.next;
    const batches: Batch[] = [];
    let next = log.next;
    let pos = 0;
    while (pos < recordSet.length) {
      if (pos + BATCH.records > recordSet.length) throw new Error('truncated record batch');
      const end = pos + 12 + recordSet.readInt32BE(pos + BATCH.length);
      if (end > recordSet.length || end - pos < BATCH.records) throw new Error('bad batch length');
      const data = Buffer.from(recordSet.subarray(pos, end)); // copy: we rewrite the base offset
      if (data.readInt8(BATCH.magic) !== 2) throw new Error('only RecordBatch magic 2 is supported');
      const lastOffsetDelta = data.readInt32BE(BATCH.lastOffsetDelta);
      data.writeBigInt64BE(BigInt(next), 0);
      const records = decodeBatch(data, topic, partition);
      const maxTimestamp = Number(data.readBigInt64BE(BATCH.maxTimestamp));
      batches.push({ base: next, last: next + lastOffsetDelta, maxTimestamp, data, records });
      next += lastOffsetDelta + 1;
      pos = end;
    }
    if (batches.length === 0) throw new Error('empty record set');
    log.batches.push(...batches);
    log.next = next;
    wakeFetchers();
    return base;
  }

  // --- ApiVersions / Metadata / CreateTopics -------------------------------------------------

  function apiVersions(version: number): Buffer {
    const w = new Writer()
      .int16(version > 2 ? ERR.UNSUPPORTED_VERSION : ERR.NONE)
      .array(Object.entries(VERSIONS), (w, [key, [min, max]]) => w.int16(Number(key)).int16(min).int16(max));
    return (version >= 1 && version <= 2 ? w.int32(0) : w).build();
  }

  function metadata(r: Reader): Buffer {
    const requested = r.nullableArray((r) => r.string());
    const allowAutoCreate = r.bool();
    const names = requested ?? [...topics.keys()];
    return new Writer()
      .int32(0) // throttle_time_ms
      .array([0], (w, nodeId) => w.int32(nodeId).string(host).int32(port).string(null))
      .string('in-memory-test-cluster')
      .int32(0) // controller_id
      .array(names, (w, name) => {
        if (!topics.has(name) && allowAutoCreate && autoCreate && TOPIC_NAME.test(name)) createTopic(name, 1);
        const parts = topics.get(name) ?? [];
        const error = topics.has(name) ? ERR.NONE : TOPIC_NAME.test(name) ? ERR.UNKNOWN_TOPIC_OR_PARTITION : ERR.INVALID_TOPIC;
        w.int16(error).string(name).int8(0); // is_internal = false
        w.array(parts, (w, _log, i) =>
          w
            .int16(ERR.NONE)
            .int32(i)
            .int32(0)
            .array([0], (w, n) => w.int32(n))
            .array([0], (w, n) => w.int32(n)),
        );
      })
      .build();
  }

  function createTopics(r: Reader): Buffer {
    const requests = r.array((r) => ({
      name: r.string(),
      partitions: r.int32(),
      replicationFactor: r.int16(),
      assignment: r.array((r) => ({ partition: r.int32(), replicas: r.array((r) => r.int32()) })),
      configs: r.array((r) => ({ name: r.string(), value: r.nullableString() })),
    }));
    r.int32(); // timeout
    const validateOnly = r.bool();
    return new Writer()
      .array(requests, (w, t) => {
        const count = t.assignment.length > 0 ? t.assignment.length : t.partitions === -1 ? 1 : t.partitions;
        let error: number = ERR.NONE;
        let message: string | null = null;
        if (!TOPIC_NAME.test(t.name)) [error, message] = [ERR.INVALID_TOPIC, `Invalid topic name '${t.name}'`];
        else if (topics.has(t.name)) [error, message] = [ERR.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`];
        else if (count < 1) [error, message] = [ERR.INVALID_PARTITIONS, 'Number of partitions must be larger than 0.'];
        else if (!validateOnly) createTopic(t.name, count);
        w.string(t.name).int16(error).string(message);
      })
      .build();
  }

  // --- Produce / Fetch / ListOffsets ---------------------------------------------------------

  function produce(r: Reader): Buffer | null {
    r.nullableString(); // transactional_id
    const acks = r.int16();
    r.int32(); // timeout
    const data = r.array((r) => ({
      topic: r.string(),
      partitions: r.array((r) => ({ partition: r.int32(), records: r.bytes() ?? EMPTY })),
    }));
    const results = data.map(({ topic, partitions }) => ({
      topic,
      partitions: partitions.map(({ partition, records }) => {
        const log = partitionLog(topic, partition);
        if (!log) return { partition, error: ERR.UNKNOWN_TOPIC_OR_PARTITION, base: -1 };
        try {
          return { partition, error: ERR.NONE, base: append(topic, partition, log, records) };
        } catch {
          return { partition, error: ERR.CORRUPT_MESSAGE, base: -1 };
        }
      }),
    }));
    if (acks === 0) return null; // the client expects no response at all
    return new Writer()
      .array(results, (w, t) => w.string(t.topic).array(t.partitions, (w, p) => w.int32(p.partition).int16(p.error).int64(p.base).int64(-1)))
      .int32(0) // throttle_time_ms
      .build();
  }

  async function fetch(r: Reader): Promise<Buffer> {
    r.int32(); // replica_id
    const maxWait = r.int32();
    const minBytes = r.int32();
    r.int32(); // max_bytes (response-wide; we honour the per-partition limit)
    r.int8(); // isolation_level: there are no transactions, so every record is committed
    const wanted = r.array((r) => ({
      topic: r.string(),
      partitions: r.array((r) => ({ partition: r.int32(), offset: r.int64(), maxBytes: r.int32() })),
    }));

    const build = (): { body: Buffer; bytes: number; errors: boolean } => {
      let bytes = 0;
      let errors = false;
      const body = new Writer()
        .int32(0) // throttle_time_ms
        .array(wanted, (w, t) =>
          w.string(t.topic).array(t.partitions, (w, p) => {
            const log = partitionLog(t.topic, p.partition);
            const error = !log ? ERR.UNKNOWN_TOPIC_OR_PARTITION : p.offset < 0 || p.offset > log.next ? ERR.OFFSET_OUT_OF_RANGE : ERR.NONE;
            const chunks: Buffer[] = [];
            let size = 0;
            if (log && error === ERR.NONE) {
              for (const batch of log.batches) {
                if (batch.last < p.offset) continue;
                if (size > 0 && size + batch.data.length > p.maxBytes) break;
                chunks.push(batch.data);
                size += batch.data.length;
              }
            }
            bytes += size;
            errors ||= error !== ERR.NONE;
            const end = log ? log.next : -1;
            // partition, error, high watermark, last stable offset, aborted transactions, records
            w.int32(p.partition).int16(error).int64(end).int64(end).int32(0).bytes(Buffer.concat(chunks));
          }),
        )
        .build();
      return { body, bytes, errors };
    };

    const deadline = Date.now() + maxWait;
    for (;;) {
      const result = build();
      const remaining = deadline - Date.now();
      if (result.bytes >= minBytes || result.errors || remaining <= 0 || closed) return result.body;
      // Long-poll: sleep until something is appended anywhere (then re-check), the wait ends, or close().
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          dataWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, remaining);
        timer.unref();
        dataWaiters.add(wake);
      });
    }
  }

  function listOffsets(r: Reader): Buffer {
    r.int32(); // replica_id
    r.int8(); // isolation_level
    const wanted = r.array((r) => ({
      topic: r.string(),
      partitions: r.array((r) => ({ partition: r.int32(), timestamp: r.int64() })),
    }));
    return new Writer()
      .int32(0) // throttle_time_ms
      .array(wanted, (w, t) =>
        w.string(t.topic).array(t.partitions, (w, p) => {
          const log = partitionLog(t.topic, p.partition);
          if (!log) return w.int32(p.partition).int16(ERR.UNKNOWN_TOPIC_OR_PARTITION).int64(-1).int64(-1);
          let offset: number;
          if (p.timestamp === -1)
            offset = log.next; // latest
          else if (p.timestamp === -2)
            offset = 0; // earliest (nothing is ever deleted)
          else offset = log.batches.find((b) => b.maxTimestamp >= p.timestamp)?.base ?? -1;
          return w.int32(p.partition).int16(ERR.NONE).int64(-1).int64(offset);
        }),
      )
      .build();
  }

  // --- Consumer group coordinator ------------------------------------------------------------

  const coordinator = (): Buffer => new Writer().int32(0).int16(ERR.NONE).string(null).int32(0).string(host).int32(port).build();

  function group(id: string): Group {
    let g = groups.get(id);
    if (!g) {
      g = { state: 'Empty', generation: 0, leader: '', protocol: '', members: new Map(), rebalanceDeadline: 0 };
      groups.set(id, g);
    }
    return g;
  }

  const joinResponse = (error: number, memberId: string, g?: Group, members: Member[] = []): Buffer =>
    new Writer()
      .int32(0) // throttle_time_ms
      .int16(error)
      .int32(g ? g.generation : -1)
      .string(g ? g.protocol : '')
      .string(g ? g.leader : '')
      .string(memberId)
      .array(members, (w, m) => w.string(m.id).bytes(m.protocols.find((p) => p.name === g?.protocol)?.metadata ?? EMPTY))
      .build();

  const syncResponse = (error: number, assignment: Buffer = EMPTY): Buffer => new Writer().int32(0).int16(error).bytes(assignment).build();

  const errorOnly = (error: number): Buffer => new Writer().int32(0).int16(error).build();

  function prepareRebalance(g: Group): void {
    g.state = 'PreparingRebalance';
    g.rebalanceDeadline = Date.now() + Math.max(0, ...[...g.members.values()].map((m) => m.rebalanceTimeout));
    for (const m of g.members.values()) {
      m.pendingSync?.(syncResponse(ERR.REBALANCE_IN_PROGRESS));
      m.pendingSync = undefined;
    }
  }

  /** Completes the join phase once every member re-joined (or, forced, drops those that did not). */
  function tryCompleteJoin(g: Group, force = false): void {
    if (g.state !== 'PreparingRebalance') return;
    const lagging = [...g.members.values()].filter((m) => !m.pendingJoin);
    if (lagging.length > 0 && !force) return;
    for (const m of lagging) g.members.delete(m.id);
    const members = [...g.members.values()];
    const leader = g.members.get(g.leader) ?? members[0];
    if (!leader) {
      g.state = 'Empty';
      g.leader = '';
      return;
    }
    g.generation++;
    g.leader = leader.id;
    const common = leader.protocols.find((p) => members.every((m) => m.protocols.some((q) => q.name === p.name)));
    g.protocol = (common ?? leader.protocols[0]!).name;
    g.state = 'CompletingRebalance';
    for (const m of members) {
      const respond = m.pendingJoin!;
      m.pendingJoin = undefined;
      m.assignment = EMPTY;
      m.lastSeen = Date.now();
      respond(joinResponse(ERR.NONE, m.id, g, m.id === g.leader ? members : []));
    }
  }

  function removeMember(g: Group, m: Member): void {
    g.members.delete(m.id);
    m.pendingJoin?.(joinResponse(ERR.UNKNOWN_MEMBER_ID, m.id));
    m.pendingSync?.(syncResponse(ERR.UNKNOWN_MEMBER_ID));
    if (g.members.size === 0) {
      g.state = 'Empty';
      g.leader = '';
      return;
    }
    if (g.state !== 'PreparingRebalance') prepareRebalance(g);
    tryCompleteJoin(g);
  }

  function joinGroup(r: Reader, clientId: string): Buffer | Promise<Buffer> {
    const groupId = r.string();
    const sessionTimeout = r.int32();
    const rebalanceTimeout = r.int32();
    const memberId = r.string();
    r.string(); // protocol_type ("consumer")
    const protocols = r.array((r) => ({ name: r.string(), metadata: r.bytes() ?? EMPTY }));
    const g = group(groupId);
    let m = g.members.get(memberId);
    if (memberId !== '' && !m) return joinResponse(ERR.UNKNOWN_MEMBER_ID, memberId);
    if (protocols.length === 0) return joinResponse(ERR.INCONSISTENT_GROUP_PROTOCOL, memberId);
    if (!m) {
      m = { id: `${clientId || 'member'}-${randomUUID()}`, sessionTimeout, rebalanceTimeout, protocols, lastSeen: 0, assignment: EMPTY };
      g.members.set(m.id, m);
    }
    Object.assign(m, { sessionTimeout, rebalanceTimeout, protocols, lastSeen: Date.now() });
    const member = m;
    return new Promise<Buffer>((resolve) => {
      member.pendingJoin?.(joinResponse(ERR.UNKNOWN_MEMBER_ID, member.id)); // superseded request
      member.pendingJoin = resolve;
      if (g.state !== 'PreparingRebalance') prepareRebalance(g);
      tryCompleteJoin(g);
    });
  }

  function syncGroup(r: Reader): Buffer | Promise<Buffer> {
    const groupId = r.string();
    const generation = r.int32();
    const memberId = r.string();
    const assignments = r.array((r) => ({ memberId: r.string(), assignment: r.bytes() ?? EMPTY }));
    const g = groups.get(groupId);
    const m = g?.members.get(memberId);
    if (!g || !m) return syncResponse(ERR.UNKNOWN_MEMBER_ID);
    if (generation !== g.generation) return syncResponse(ERR.ILLEGAL_GENERATION);
    m.lastSeen = Date.now();
    if (g.state === 'PreparingRebalance') return syncResponse(ERR.REBALANCE_IN_PROGRESS);
    if (g.state === 'Stable') return syncResponse(ERR.NONE, m.assignment);
    return new Promise<Buffer>((resolve) => {
      m.pendingSync = resolve;
      if (memberId !== g.leader) return; // wait for the leader's assignments
      for (const a of assignments) {
        const target = g.members.get(a.memberId);
        if (target) target.assignment = a.assignment;
      }
      g.state = 'Stable';
      for (const member of g.members.values()) {
        const respond = member.pendingSync;
        member.pendingSync = undefined;
        member.lastSeen = Date.now();
        respond?.(syncResponse(ERR.NONE, member.assignment));
      }
    });
  }

  function heartbeat(r: Reader): Buffer {
    const g = groups.get(r.string());
    const generation = r.int32();
    const m = g?.members.get(r.string());
    if (!g || !m) return errorOnly(ERR.UNKNOWN_MEMBER_ID);
    if (generation !== g.generation) return errorOnly(ERR.ILLEGAL_GENERATION);
    m.lastSeen = Date.now();
    return errorOnly(g.state === 'PreparingRebalance' ? ERR.REBALANCE_IN_PROGRESS : ERR.NONE);
  }

  function leaveGroup(r: Reader): Buffer {
    const g = groups.get(r.string());
    const m = g?.members.get(r.string());
    if (!g || !m) return errorOnly(ERR.UNKNOWN_MEMBER_ID);
    removeMember(g, m);
    return errorOnly(ERR.NONE);
  }

  /** Session expiry and rebalance timeouts. */
  function sweep(): void {
    const now = Date.now();
    for (const g of groups.values()) {
      for (const m of g.members.values()) {
        if (!m.pendingJoin && !m.pendingSync && now - m.lastSeen > m.sessionTimeout) removeMember(g, m);
      }
      if (g.state === 'PreparingRebalance' && now >= g.rebalanceDeadline) tryCompleteJoin(g, true);
    }
  }

  function offsetCommit(r: Reader): Buffer {
    const groupId = r.string();
    const generation = r.int32();
    const memberId = r.string();
    r.int64(); // retention_time
    const wanted = r.array((r) => ({
      topic: r.string(),
      partitions: r.array((r) => ({ partition: r.int32(), offset: r.int64(), metadata: r.nullableString() ?? '' })),
    }));
    let error: number = ERR.NONE;
    if (generation !== -1 || memberId !== '') {
      // a group member's commit; generation -1 with no member id is a "simple" (standalone) commit
      const g = groups.get(groupId);
      const m = g?.members.get(memberId);
      if (!g || !m) error = ERR.UNKNOWN_MEMBER_ID;
      else if (generation !== g.generation) error = ERR.ILLEGAL_GENERATION;
      else if (g.state === 'CompletingRebalance') error = ERR.REBALANCE_IN_PROGRESS;
      else m.lastSeen = Date.now();
    }
    let offsets = committed.get(groupId);
    if (!offsets) committed.set(groupId, (offsets = new Map()));
    const store = offsets;
    return new Writer()
      .array(wanted, (w, t) =>
        w.string(t.topic).array(t.partitions, (w, p) => {
          if (error === ERR.NONE) store.set(`${t.topic}:${p.partition}`, { offset: p.offset, metadata: p.metadata });
          w.int32(p.partition).int16(error);
        }),
      )
      .build();
  }

  function offsetFetch(r: Reader): Buffer {
    const offsets = committed.get(r.string());
    const wanted = r.array((r) => ({ topic: r.string(), partitions: r.array((r) => r.int32()) }));
    return new Writer()
      .array(wanted, (w, t) =>
        w.string(t.topic).array(t.partitions, (w, partition) => {
          const c = offsets?.get(`${t.topic}:${partition}`);
          w.int32(partition)
            .int64(c ? c.offset : -1)
            .string(c ? c.metadata : '')
            .int16(ERR.NONE);
        }),
      )
      .int16(ERR.NONE)
      .build();
  }

  // --- Connections -----------------------------------------------------------------------------

  const handlers: Record<number, (r: Reader, clientId: string) => Buffer | null | Promise<Buffer>> = {
    0: produce,
    1: fetch,
    2: listOffsets,
    3: metadata,
    8: offsetCommit,
    9: offsetFetch,
    10: coordinator,
    11: joinGroup,
    12: heartbeat,
    13: leaveGroup,
    14: syncGroup,
    19: createTopics,
  };

  async function handle(socket: Socket, frame: Buffer): Promise<void> {
    const r = new Reader(frame);
    const apiKey = r.int16();
    const version = r.int16();
    const correlationId = r.int32();
    const clientId = r.nullableString() ?? '';
    const name = API_NAMES[apiKey] ?? `api${apiKey}`;
    requestCounts[name] = (requestCounts[name] ?? 0) + 1;
    let body: Buffer | null;
    if (apiKey === 18) {
      body = apiVersions(version);
    } else {
      const range = VERSIONS[apiKey];
      const handler = handlers[apiKey];
      if (!range || !handler || version < range[0] || version > range[1]) {
        throw new Error(`unsupported request ${name} v${version} (client ${clientId})`);
      }
      body = await handler(r, clientId);
    }
    if (body === null || socket.destroyed) return;
    const header = Buffer.allocUnsafe(8);
    header.writeInt32BE(body.length + 4, 0);
    header.writeInt32BE(correlationId, 4);
    socket.write(Buffer.concat([header, body]));
  }

  function onConnection(socket: Socket): void {
    sockets.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer = EMPTY;
    // Requests on one connection are answered strictly one after another, like Kafka does.
    let queue: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (size < 0) return void socket.destroy();
        if (pending.length < 4 + size) break;
        const frame = pending.subarray(4, 4 + size);
        pending = pending.subarray(4 + size);
        queue = queue
          .then(() => handle(socket, frame))
          .catch((err: unknown) => {
            if (!closed) process.stderr.write(`[kafka-broker] closing connection: ${String(err)}\n`);
            socket.destroy();
          });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  }

  const server = createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('unexpected server address');
  port = address.port;
  const sweeper = setInterval(sweep, 100);
  sweeper.unref();

  return {
    host,
    port,
    brokers: [`${host}:${port}`],
    requestCounts,
    messages(topic: string, partition?: number): StoredRecord[] {
      const logs = topics.get(topic) ?? [];
      return logs.flatMap((log, p) => {
        if (partition !== undefined && p !== partition) return [];
        return log.batches.flatMap((b) => {
          if (!b.records) throw new Error(`batch at ${topic}/${p}@${b.base} uses a compression codec that cannot be decoded`);
          return b.records;
        });
      });
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      wakeFetchers();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
}
