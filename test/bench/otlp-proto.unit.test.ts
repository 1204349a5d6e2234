/**
 * The agent's own OTLP protobuf encoder (src/exporters/otlp-proto.ts) must say
 * exactly what the upstream transformer says: both outputs are decoded with the
 * official protos and compared field by field, for spans that exercise every
 * value type, events, links, trace state, remote parents, non-ASCII text and
 * messages large enough to need multi-byte lengths.
 */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { context, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes } from '@opentelemetry/api';
import { AlwaysOnSampler, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { encodeTraceRequest, SpanEncoder, type SpanOrEncoded } from '../../src/exporters/otlp-proto';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const root: any = require('otlp-proto-root/build/src/generated/root.js');
const TraceReq = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

function decode(buf: Uint8Array): unknown {
  return TraceReq.toObject(TraceReq.decode(buf), { longs: String, bytes: String, defaults: true });
}

function makeSpans(): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'enc-test', 'process.pid': 4242, 'host.name': 'hôte-été', big: 2 ** 40 }),
    sampler: new AlwaysOnSampler(),
    spanLimits: { attributeCountLimit: 25 },
    spanProcessors: [{ onStart() {}, onEnd: (s) => void ended.push(s), forceFlush: async () => {}, shutdown: async () => {} }],
  });
  const a = provider.getTracer('scope-a', '1.2.3');
  const b = provider.getTracer('scope-b');

  const values: Attributes = {
    str: 'plain',
    empty: '',
    unicode: 'naïve ☃ 日本語 🎉',
    long: 'x'.repeat(70),
    longer: 'y'.repeat(200) + 'é',
    t: true,
    f: false,
    zero: 0,
    small: 7,
    neg: -1,
    negBig: -(2 ** 40) - 3,
    big: 2 ** 53 - 1,
    u32: 2 ** 32,
    dbl: 3.25,
    negDbl: -0.5,
    nan: NaN,
    strs: ['a', 'bé', ''],
    nums: [1, 2.5, -3],
    bools: [true, false],
    mixedNull: ['x', null as unknown as string, 'y'],
  };

  const root = a.startSpan('GET /orders/:id', { kind: SpanKind.SERVER, attributes: values });
  root.addEvent('ev1');
  root.addEvent('ev2', { k: 'v', n: 3 });
  root.setStatus({ code: SpanStatusCode.ERROR, message: 'boom ✗' });
  const ctx = trace.setSpan(context.active(), root);
  const child = a.startSpan('SELECT test', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql' } }, ctx);
  for (let i = 0; i < 30; i++) child.setAttribute(`a${i}`, i); // over the limit: a dropped count
  child.setStatus({ code: SpanStatusCode.OK });
  child.end();

  const remote = trace.setSpanContext(context.active(), {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=a1b2,other=x'),
  });
  const fromRemote = b.startSpan(
    'process',
    {
      kind: SpanKind.CONSUMER,
      links: [
        { context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true }, attributes: { why: 'batch' } },
        { context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4737', spanId: '00f067aa0ba902b8', traceFlags: 0 } },
      ],
    },
    remote,
  );
  fromRemote.end();

  // A span of ~40 KB: three-byte lengths for the span, its scope and resource groups.
  const huge = b.startSpan('huge', { kind: SpanKind.PRODUCER });
  huge.setAttribute('blob', 'z'.repeat(40_000));
  huge.end();

  root.end();
  // Times on both sides of second boundaries, and far out (the nanosecond total needs all 64 bits).
  const times: [number, number][] = [
    [1, 999_999_999],
    [2, 0],
    [1_763_692_000, 0],
    [1_763_692_000, 999_999_999],
    [1_763_692_001, 1],
    // (1_763_692_006 * 1e9) mod 2^32 = 4_141_054_976: adding these nanoseconds carries into the high word.
    [1_763_692_006, 999_999_999],
    [1_763_692_006, 153_912_320],
    [4_294_967_295, 999_999_999],
  ];
  for (const [i, t] of times.entries()) b.startSpan(`timed ${i}`, { startTime: t }).end(times[(i + 1) % times.length]);
  for (let i = 0; i < 300; i++) a.startSpan(`bulk ${i}`, { kind: SpanKind.INTERNAL, attributes: { i } }).end();
  return ended;
}

describe('OTLP protobuf encoder', () => {
  it('decodes to exactly what the upstream transformer encodes', () => {
    const spans = makeSpans();
    const ours = decode(encodeTraceRequest(spans));
    const theirs = decode(ProtobufTraceSerializer.serializeRequest(spans as never)!);
    expect(ours).toEqual(theirs);
    // And it is the data we meant: a spot check on values upstream could also get wrong.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const o = ours as any;
    const scopeA = o.resourceSpans[0].scopeSpans.find((s: { scope: { name: string } }) => s.scope.name === 'scope-a');
    const server = scopeA.spans.find((s: { name: string }) => s.name === 'GET /orders/:id');
    const attr = (k: string) => server.attributes.find((kv: { key: string }) => kv.key === k)?.value;
    expect(attr('unicode').stringValue).toBe('naïve ☃ 日本語 🎉');
    expect(attr('negBig').intValue).toBe(String(-(2 ** 40) - 3));
    expect(attr('big').intValue).toBe(String(2 ** 53 - 1));
    expect(server.status).toEqual({ code: 2, message: 'boom ✗' });
  });

  it('a malformed id in a batch (all ids are decoded in one go) costs neither that span nor the others', () => {
    const spans = makeSpans().slice(0, 40);
    const bad = (s: ReadableSpan, name: string, patch: Partial<ReturnType<ReadableSpan['spanContext']>>): ReadableSpan => {
      const sc = { ...s.spanContext(), ...patch };
      return Object.create(s, { spanContext: { value: () => sc }, name: { value: name } }) as ReadableSpan;
    };
    spans[3] = bad(spans[3]!, 'bad char', { spanId: '00f067aa0ba9zz07' });
    spans[7] = bad(spans[7]!, 'upper case', { traceId: '4BF92F3577B34DA6A3CE929D0E0E4736' }); // valid hex
    spans[9] = bad(spans[9]!, 'odd length', { spanId: 'abc' });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const all = (o: any): any[] => o.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((ss: any) => ss.spans));
    const ours = decode(encodeTraceRequest(spans));
    const theirs = decode(ProtobufTraceSerializer.serializeRequest(spans as never)!);
    // Encoded one by one when they end (the queue's form), the same bytes come out.
    const enc = new SpanEncoder();
    expect(decode(encodeTraceRequest(spans.map((s) => enc.encode(s))))).toEqual(ours);
    const byName = (o: unknown, n: string) => all(o).find((x) => x.name === n);
    // Malformed ids keep what this encoder always wrote for them: the bytes up to the first non-hex character, then zeros.
    expect(byName(ours, 'bad char').spanId).toBe(Buffer.from('00f067aa0ba90000', 'hex').toString('base64'));
    expect(byName(ours, 'odd length').spanId).toBe(Buffer.from('ab', 'hex').toString('base64'));
    expect(byName(ours, 'upper case').traceId).toBe(Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex').toString('base64'));
    // Everything else is what the upstream transformer writes.
    for (const n of ['bad char', 'odd length']) {
      delete byName(ours, n).spanId;
      delete byName(theirs, n).spanId;
    }
    expect(ours).toEqual(theirs);
  });

  it("spans encoded when they end (the queue's form), mixed with span objects, give the same request", () => {
    const spans = makeSpans();
    const enc = new SpanEncoder();
    // Every third span stays an object; 300+ encoded spans with a 40 KB one among them fill more than one chunk.
    const mixed: SpanOrEncoded[] = spans.map((s, i) => (i % 3 === 0 ? s : enc.encode(s)));
    const allEncoded = spans.map((s) => enc.encode(s));
    const theirs = decode(ProtobufTraceSerializer.serializeRequest(spans as never)!);
    expect(decode(encodeTraceRequest(mixed))).toEqual(theirs);
    expect(decode(encodeTraceRequest(allEncoded))).toEqual(theirs);
    // Encoding more spans afterwards leaves the queued ones' bytes alone.
    for (let i = 0; i < 3; i++) for (const s of spans) enc.encode(s);
    expect(decode(encodeTraceRequest(allEncoded))).toEqual(theirs);
  });

  it('encodes a batch whose groups reorder between calls (one scratch buffer, no leftovers)', () => {
    const spans = makeSpans();
    const first = Buffer.from(encodeTraceRequest(spans.slice(0, 5)));
    encodeTraceRequest(spans);
    expect(Buffer.from(encodeTraceRequest(spans.slice(0, 5))).equals(first)).toBe(true);
    expect(decode(encodeTraceRequest([]))).toEqual(decode(ProtobufTraceSerializer.serializeRequest([])!));
  });
});
