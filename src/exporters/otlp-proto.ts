/**
 * ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1) encoded
 * straight from SDK spans into one reused buffer.
 *
 * Why not @opentelemetry/otlp-transformer: it walks every batch twice (a size
 * estimate, then the write), allocates a Uint8Array per trace/span id and goes
 * through TextEncoder for every short string. Export runs in the app's own
 * thread, so its cost is taken from the app's requests; this encoder does one
 * pass, writes ids and ASCII strings directly, and encodes the resource and
 * each instrumentation scope once per process. The output is canonical
 * protobuf (minimal varints), byte-compatible with what the official protos decode.
 */
import type { Attributes, AttributeValue, Link, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';

/** The part of an SDK Resource the encoder reads. */
interface ResourceLike {
  attributes: Attributes;
  schemaUrl?: string;
}
interface ScopeLike {
  name: string;
  version?: string;
  schemaUrl?: string;
  attributes?: Attributes;
  droppedAttributesCount?: number;
}

const TWO_32 = 4294967296;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** Bytes a varint of this non-negative integer takes (lengths and counts only). */
function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Exported for the metrics encoder (metrics/otlp-encode.ts), which shares the attribute, resource and scope encoding. */
export class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  reset(): void {
    this.pos = 0;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned varint of a non-negative integer below 2^32. */
  uvarint(v: number): void {
    this.ensure(5);
    const b = this.buf;
    while (v > 0x7f) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[this.pos++] = v;
  }

  /** int64 varint of any safe integer (negative ones as 10-byte two's complement). */
  int64(v: number): void {
    if (v >= 0 && v < TWO_32) return this.uvarint(v);
    let lo: number;
    let hi: number;
    if (v >= 0) {
      lo = v % TWO_32;
      hi = Math.floor(v / TWO_32);
    } else {
      const a = -v;
      lo = a % TWO_32;
      hi = Math.floor(a / TWO_32);
      // two's complement of the 64-bit pair
      lo = ~lo >>> 0;
      hi = ~hi >>> 0;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
    }
    this.ensure(10);
    const b = this.buf;
    while (hi > 0 || lo > 0x7f) {
      b[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[this.pos++] = lo;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  // seconds * 1e9 split into 32-bit halves, for the last seconds value seen:
  // spans in a batch nearly all share a handful of seconds values.
  private lastS = -1;
  private lastLo = 0;
  private lastHi = 0;

  /** HrTime [seconds, nanoseconds] as fixed64 nanoseconds, exactly (the total exceeds 2^53). */
  hrtime(t: readonly [number, number] | number[]): void {
    const s = t[0] ?? 0;
    const n = t[1] ?? 0;
    if (s !== this.lastS) {
      // s * 1e9 = (sHi * 65536 + sLo) * 1e9; split sHi * 1e9 at 2^16 so that every partial stays exact.
      const sLo = s % 65536;
      const sHi = (s - sLo) / 65536;
      const x = sHi * 1e9; // below 2^46
      const xLo = x % 65536;
      const xHi = (x - xLo) / 65536; // contributes xHi * 2^32
      const y = xLo * 65536 + sLo * 1e9; // below 2^53
      this.lastS = s;
      this.lastLo = y % TWO_32;
      this.lastHi = xHi + Math.floor(y / TWO_32);
    }
    let lo = this.lastLo + n;
    let hi = this.lastHi;
    // n is normally in [0, 1e9): at most one carry; the loops only matter for malformed times.
    while (lo >= TWO_32) {
      lo -= TWO_32;
      hi += 1;
    }
    while (lo < 0) {
      lo += TWO_32;
      hi -= 1;
    }
    this.ensure(8);
    const b = this.buf;
    let p = this.pos;
    b[p++] = lo & 0xff;
    b[p++] = (lo >>> 8) & 0xff;
    b[p++] = (lo >>> 16) & 0xff;
    b[p++] = lo >>> 24;
    b[p++] = hi & 0xff;
    b[p++] = (hi >>> 8) & 0xff;
    b[p++] = (hi >>> 16) & 0xff;
    b[p++] = (hi >>> 24) & 0xff;
    this.pos = p;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** Length-prefixed UTF-8 string. */
  string(s: string): void {
    const len = s.length;
    if (len < 64) {
      // Short strings (names, keys, most values): try plain ASCII without leaving JS.
      this.ensure(len + 1);
      const b = this.buf;
      const start = this.pos;
      b[start] = len;
      let p = start + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === len) {
        this.pos = p;
        return;
      }
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.uvarint(n);
    this.ensure(n);
    this.buf.write(s, this.pos, n, 'utf8');
    this.pos += n;
  }

  /**
   * A hex id (trace/span id) as a length-prefixed bytes field; from invalid hex
   * on, zero bytes. Buffer's own hex decoder: ids are often slices of a larger
   * string (see ids.ts), which a charCodeAt loop reads slower.
   */
  hexBytes(h: string): void {
    const n = h.length >> 1;
    this.ensure(n + 1);
    const b = this.buf;
    b[this.pos++] = n;
    const wrote = b.write(h, this.pos, n, 'hex');
    if (wrote < n) b.fill(0, this.pos + wrote, this.pos + n);
    this.pos += n;
  }

  /** `n` bytes of `src` from `off` as a length-prefixed bytes field (n < 128). */
  bytesAt(src: Uint8Array, off: number, n: number): void {
    this.ensure(n + 1);
    const b = this.buf;
    let p = this.pos;
    b[p++] = n;
    for (let i = 0; i < n; i++) b[p++] = src[off + i]!;
    this.pos = p;
  }

  /** `n` bytes of `src` from `off`, as they are. */
  rawAt(src: Buffer, off: number, n: number): void {
    this.ensure(n);
    src.copy(this.buf, this.pos, off, off + n);
    this.pos += n;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /**
   * Starts a length-delimited field whose body follows; `guess` bytes are kept
   * for its length. Returns the mark to pass to end().
   */
  begin(guess: number): number {
    this.ensure(guess);
    const mark = this.pos;
    this.pos += guess;
    return mark * 8 + guess;
  }

  /** Writes the length at the mark, moving the body when the guess was wrong; returns the bytes the length took. */
  end(m: number): number {
    const guess = m & 7;
    const mark = (m - guess) / 8;
    const bodyStart = mark + guess;
    const len = this.pos - bodyStart;
    const need = varintSize(len);
    if (need !== guess) {
      this.ensure(need - guess);
      this.buf.copyWithin(mark + need, bodyStart, this.pos);
      this.pos += need - guess;
    }
    const b = this.buf;
    let p = mark;
    let v = len;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p] = v;
    return need;
  }

  /**
   * Bytes to keep for the next span's length: what the previous span needed.
   * Spans of a batch tend to be alike, and a wrong guess moves the span's
   * body (a copyWithin of ~40 ns for a small span, the usual guess of 2 being
   * wrong for every span under 128 bytes).
   */
  spanGuess = 2;
}

// Tags: (field << 3) | wire type; one byte each up to field 15 (Span.flags, field 16, takes two).
export const LEN = 2;
export const tag = (field: number, wire: number): number => (field << 3) | wire;

function anyValue(w: Writer, v: unknown): void {
  // The AnyValue body, without its own length (the caller frames it).
  switch (typeof v) {
    case 'string':
      w.byte(tag(1, LEN));
      w.string(v);
      return;
    case 'boolean':
      w.byte(tag(2, 0));
      w.byte(v ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(v) && v >= MIN_INT64 && v < MAX_INT64) {
        w.byte(tag(3, 0));
        w.int64(v);
      } else {
        w.byte(tag(4, 1));
        w.double(v);
      }
      return;
    case 'object': {
      if (v === null) return;
      if (v instanceof Uint8Array) {
        w.byte(tag(7, LEN));
        w.uvarint(v.length);
        w.raw(v);
        return;
      }
      if (Array.isArray(v)) {
        w.byte(tag(5, LEN));
        const arr = w.begin(1);
        for (const item of v as unknown[]) {
          w.byte(tag(1, LEN));
          const m = w.begin(1);
          anyValue(w, item);
          w.end(m);
        }
        w.end(arr);
        return;
      }
      w.byte(tag(6, LEN));
      const list = w.begin(1);
      const o = v as Record<string, unknown>;
      for (const k in o) {
        if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
        w.byte(tag(1, LEN));
        keyValue(w, k, o[k]);
      }
      w.end(list);
      return;
    }
    default:
      // undefined, bigint, functions: an empty AnyValue, as the upstream transformer writes.
      return;
  }
}

/** A KeyValue message body framed with its length (the caller wrote the tag). */
function keyValue(w: Writer, key: string, value: unknown): void {
  const kv = w.begin(1);
  w.byte(tag(1, LEN));
  w.string(key);
  w.byte(tag(2, LEN));
  const av = w.begin(1);
  anyValue(w, value);
  w.end(av);
  w.end(kv);
}

/**
 * Most attributes are a short ASCII key with a short ASCII string or a small
 * number: their lengths are known before writing, so the KeyValue goes out in
 * one pass with no length fix-ups. Returns false (having written nothing that
 * counts) when the attribute needs the general path.
 */
function fastKeyValue(w: Writer, t: number, key: string, value: unknown): boolean {
  const kl = key.length;
  let vl: number; // AnyValue body length
  if (typeof value === 'string') {
    if (value.length > 60) return false;
    vl = 2 + value.length;
  } else if (typeof value === 'number') {
    if (!(value >= 0 && value < 0x10000000 && Number.isInteger(value))) return false;
    vl = 1 + varintSize(value);
  } else if (typeof value === 'boolean') vl = 2;
  else return false;
  const kvl = 2 + kl + 2 + vl;
  if (kl > 60 || kvl > 127) return false;
  w.ensure(kvl + 2);
  const b = w.buf;
  let p = w.pos;
  b[p++] = t;
  b[p++] = kvl;
  b[p++] = 0x0a; // KeyValue.key
  b[p++] = kl;
  for (let i = 0; i < kl; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return false;
    b[p++] = c;
  }
  b[p++] = 0x12; // KeyValue.value
  b[p++] = vl;
  if (typeof value === 'string') {
    b[p++] = 0x0a; // AnyValue.string_value
    b[p++] = value.length;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return false;
      b[p++] = c;
    }
  } else if (typeof value === 'number') {
    b[p++] = 0x18; // AnyValue.int_value
    let v = value;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
  } else {
    b[p++] = 0x10; // AnyValue.bool_value
    b[p++] = value ? 1 : 0;
  }
  w.pos = p;
  return true;
}

export function attributes(w: Writer, attrs: Attributes | undefined, field: number): void {
  if (!attrs) return;
  const t = tag(field, LEN);
  for (const k in attrs) {
    if (!Object.prototype.hasOwnProperty.call(attrs, k)) continue;
    const v = attrs[k];
    if (fastKeyValue(w, t, k, v)) continue;
    w.byte(t);
    keyValue(w, k, v as AttributeValue | undefined);
  }
}

const FLAG_HAS_IS_REMOTE = 0x100;
const FLAG_IS_REMOTE = 0x200;
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | FLAG_HAS_IS_REMOTE | (isRemote ? FLAG_IS_REMOTE : 0);
}

function event(w: Writer, e: TimedEvent): void {
  w.byte(tag(11, LEN));
  const m = w.begin(1);
  w.byte(tag(1, 1));
  w.hrtime(e.time);
  w.byte(tag(2, LEN));
  w.string(e.name);
  attributes(w, e.attributes, 3);
  if (e.droppedAttributesCount) {
    w.byte(tag(4, 0));
    w.uvarint(e.droppedAttributesCount);
  }
  w.end(m);
}

function link(w: Writer, l: Link & { droppedAttributesCount?: number }): void {
  w.byte(tag(13, LEN));
  const m = w.begin(1);
  const c = l.context;
  w.byte(tag(1, LEN));
  w.hexBytes(c.traceId);
  w.byte(tag(2, LEN));
  w.hexBytes(c.spanId);
  const ts = c.traceState?.serialize();
  if (ts) {
    w.byte(tag(3, LEN));
    w.string(ts);
  }
  attributes(w, l.attributes, 4);
  if (l.droppedAttributesCount) {
    w.byte(tag(5, 0));
    w.uvarint(l.droppedAttributesCount);
  }
  w.byte(tag(6, 5));
  w.fixed32(spanFlags(c.traceFlags, c.isRemote));
  w.end(m);
}

/**
 * The trace, span and parent span ids of a whole request, hex-decoded in one
 * call. Each id through Buffer's hex decoder was one native call of about
 * 100 ns (a third of a small span's encoding); here all of them are joined and
 * decoded at once, and each span copies its bytes from the result, in the
 * order span() is called. Undefined when an id is not a well-formed hex id of
 * the usual length: every id then goes through hexBytes() one by one.
 */
function decodeIds(groups: Iterable<Map<object, SpanOrEncoded[]>>): Buffer | undefined {
  const parts: string[] = [];
  let chars = 0;
  for (const scopes of groups) {
    for (const list of scopes.values()) {
      for (const s of list) {
        if (s instanceof EncodedSpan) continue;
        const ctx = s.spanContext();
        const t = ctx.traceId;
        const id = ctx.spanId;
        if (t.length !== 32 || id.length !== 16) return undefined;
        parts.push(t, id);
        chars += 48;
        const p = s.parentSpanContext?.spanId;
        if (p) {
          if (p.length !== 16) return undefined;
          parts.push(p);
          chars += 16;
        }
      }
    }
  }
  const bytes = Buffer.from(parts.join(''), 'hex');
  // The decoder stops at the first character that is not hex.
  return bytes.length * 2 === chars ? bytes : undefined;
}

/** Where the next span's ids are in the decodeIds() result. */
let idCursor = 0;

function span(w: Writer, s: ReadableSpan, ids: Buffer | undefined): void {
  w.byte(tag(2, LEN)); // ScopeSpans.spans
  const m = w.begin(w.spanGuess);
  const ctx: SpanContext = s.spanContext();
  const parent = s.parentSpanContext;
  const parentId = parent?.spanId;
  if (ids) {
    w.byte(tag(1, LEN));
    w.bytesAt(ids, idCursor, 16);
    w.byte(tag(2, LEN));
    w.bytesAt(ids, idCursor + 16, 8);
    idCursor += 24;
  } else {
    w.byte(tag(1, LEN));
    w.hexBytes(ctx.traceId);
    w.byte(tag(2, LEN));
    w.hexBytes(ctx.spanId);
  }
  const ts = ctx.traceState?.serialize();
  if (ts) {
    w.byte(tag(3, LEN));
    w.string(ts);
  }
  if (parentId) {
    w.byte(tag(4, LEN));
    if (ids) {
      w.bytesAt(ids, idCursor, 8);
      idCursor += 8;
    } else w.hexBytes(parentId);
  }
  w.byte(tag(5, LEN));
  w.string(s.name);
  // SDK SpanKind starts at INTERNAL=0; the proto's 0 is UNSPECIFIED.
  const kind = s.kind == null ? 0 : s.kind + 1;
  if (kind !== 0) {
    w.byte(tag(6, 0));
    w.byte(kind);
  }
  w.byte(tag(7, 1));
  w.hrtime(s.startTime);
  w.byte(tag(8, 1));
  w.hrtime(s.endTime);
  attributes(w, s.attributes, 9);
  if (s.droppedAttributesCount) {
    w.byte(tag(10, 0));
    w.uvarint(s.droppedAttributesCount);
  }
  for (const e of s.events) event(w, e);
  if (s.droppedEventsCount) {
    w.byte(tag(12, 0));
    w.uvarint(s.droppedEventsCount);
  }
  for (const l of s.links) link(w, l);
  if (s.droppedLinksCount) {
    w.byte(tag(14, 0));
    w.uvarint(s.droppedLinksCount);
  }
  // Status is always written (code UNSET included), as the upstream transformer does.
  w.byte(tag(15, LEN));
  const st = w.begin(1);
  if (s.status.message) {
    w.byte(tag(2, LEN));
    w.string(s.status.message);
  }
  w.byte(tag(3, 0));
  w.uvarint(s.status.code);
  w.end(st);
  w.uvarint(tag(16, 5));
  w.fixed32(spanFlags(ctx.traceFlags, parent?.isRemote));
  w.spanGuess = w.end(m);
}

/** Encodes a message part once and returns a copy of its bytes. */
function encodeOnce(fn: (w: Writer) => void): Uint8Array {
  const w = new Writer(1024);
  fn(w);
  return Uint8Array.prototype.slice.call(w.buf, 0, w.pos);
}

// Resource and scope objects live as long as the provider and its tracers:
// their encoding is computed on first use and kept with them.
const resourceBytes = new WeakMap<object, Uint8Array>();
const scopeBytes = new WeakMap<object, Uint8Array>();

export function resourceField(r: ResourceLike): Uint8Array {
  let b = resourceBytes.get(r);
  if (!b) {
    b = encodeOnce((w) => {
      w.byte(tag(1, LEN)); // ResourceSpans.resource
      const m = w.begin(2);
      attributes(w, r.attributes, 1);
      w.end(m);
    });
    resourceBytes.set(r, b);
  }
  return b;
}

export function scopeField(s: ScopeLike): Uint8Array {
  let b = scopeBytes.get(s);
  if (!b) {
    b = encodeOnce((w) => {
      w.byte(tag(1, LEN)); // ScopeSpans.scope
      const m = w.begin(1);
      w.byte(tag(1, LEN));
      w.string(s.name);
      if (s.version) {
        w.byte(tag(2, LEN));
        w.string(s.version);
      }
      attributes(w, s.attributes, 3);
      if (s.droppedAttributesCount) {
        w.byte(tag(4, 0));
        w.uvarint(s.droppedAttributesCount);
      }
      w.end(m);
    });
    scopeBytes.set(s, b);
  }
  return b;
}

/**
 * A span encoded when it ended: its ScopeSpans.spans field, `len` bytes at
 * `off` in `chunk`, plus the resource and scope it is grouped under. The
 * batch queue keeps these instead of span objects (processor.ts `compact`).
 *
 * Why: a span waits in the queue for up to the schedule delay, long enough
 * for V8 to promote it, with its attributes, strings, span context and
 * status, to the old generation; every scavenge on the way copies them. A
 * queued EncodedSpan is one small object and its bytes live outside the JS
 * heap, so the span's own objects die young. Encoding the span right after
 * end() also reads it while it is still in the CPU's cache.
 */
export class EncodedSpan {
  constructor(
    readonly resource: object,
    readonly instrumentationScope: object,
    readonly chunk: Buffer,
    readonly off: number,
    readonly len: number,
  ) {}
}

/** Spans for the queue are written one after another into chunks of this size. */
const CHUNK = 64 << 10;
/** A span is started in a fresh chunk when less than this is left (most spans take under 1 KB). */
const CHUNK_RESERVE = 8 << 10;

/**
 * Encodes ended spans one by one into shared chunks (off the JS heap). A chunk
 * is freed by the garbage collector once no queued span refers to it; a span
 * too big for what is left grows the chunk by copying, which leaves the bytes
 * of earlier spans where their EncodedSpan points.
 */
export class SpanEncoder {
  private readonly w = new Writer(CHUNK);
  private readonly idBytes = Buffer.allocUnsafe(32);

  /**
   * The span's ids decoded in one call (one hex decode per id cost about 110 ns
   * each), as span() reads them at idCursor; undefined for ids that are not
   * well-formed hex of the usual length (span() then decodes each on its own).
   */
  private ids(s: ReadableSpan): Buffer | undefined {
    const ctx = s.spanContext();
    const p = s.parentSpanContext?.spanId;
    if (ctx.traceId.length !== 32 || ctx.spanId.length !== 16 || (p && p.length !== 16)) return undefined;
    const hex = p ? ctx.traceId + ctx.spanId + p : ctx.traceId + ctx.spanId;
    // The decoder stops at the first character that is not hex.
    if (this.idBytes.write(hex, 0, 'hex') * 2 !== hex.length) return undefined;
    idCursor = 0;
    return this.idBytes;
  }

  encode(s: ReadableSpan): EncodedSpan {
    const w = this.w;
    if (w.buf.length - w.pos < CHUNK_RESERVE) {
      w.buf = Buffer.allocUnsafeSlow(CHUNK);
      w.pos = 0;
    }
    const start = w.pos;
    span(w, s, this.ids(s));
    return new EncodedSpan(s.resource as object, s.instrumentationScope as object, w.buf, start, w.pos - start);
  }
}

// One scratch buffer reused by every export; the result is copied out because
// the HTTP request may still be writing (or retrying) it when the next batch encodes.
let scratch: Writer | undefined;
const KEEP_SCRATCH = 8 << 20;

/** A batch as the queue holds it: spans, and spans SpanEncoder already encoded. */
export type SpanOrEncoded = ReadableSpan | EncodedSpan;

export function encodeTraceRequest(spans: readonly SpanOrEncoded[]): Buffer {
  const w = (scratch ??= new Writer(256 << 10));
  w.reset();
  // Group by resource, then by scope, by identity (one of each per tracer in practice).
  const byResource = new Map<object, Map<object, SpanOrEncoded[]>>();
  for (const s of spans) {
    const r = s.resource as object;
    let scopes = byResource.get(r);
    if (!scopes) byResource.set(r, (scopes = new Map()));
    const sc = s.instrumentationScope as object;
    const list = scopes.get(sc);
    if (list) list.push(s);
    else scopes.set(sc, [s]);
  }
  const ids = decodeIds(byResource.values());
  idCursor = 0;
  for (const [resource, scopes] of byResource) {
    const r = resource as ResourceLike;
    w.byte(tag(1, LEN)); // ExportTraceServiceRequest.resource_spans
    const rs = w.begin(3);
    w.raw(resourceField(r));
    for (const [scope, list] of scopes) {
      const sc = scope as ScopeLike;
      w.byte(tag(2, LEN)); // ResourceSpans.scope_spans
      const ss = w.begin(3);
      w.raw(scopeField(sc));
      for (const s of list) {
        if (s instanceof EncodedSpan) w.rawAt(s.chunk, s.off, s.len);
        else span(w, s, ids);
      }
      if (sc.schemaUrl) {
        w.byte(tag(3, LEN));
        w.string(sc.schemaUrl);
      }
      w.end(ss);
    }
    if (r.schemaUrl) {
      w.byte(tag(3, LEN));
      w.string(r.schemaUrl);
    }
    w.end(rs);
  }
  const out = Buffer.allocUnsafe(w.pos);
  w.buf.copy(out, 0, 0, w.pos);
  // A rare huge batch must not pin its buffer for the life of the process.
  if (w.buf.length > KEEP_SCRATCH) scratch = undefined;
  return out;
}
