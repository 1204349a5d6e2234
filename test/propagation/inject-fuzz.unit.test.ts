/**
 * In-process fuzz of the inject paths, for breadth: the agent's propagator,
 * built as OTEL_PROPAGATORS builds it, for every combination of the supported
 * propagators (each non-empty subset, in the documented order and reversed),
 * reads hostile incoming headers and writes into the carriers the agent's
 * instrumentations use: a plain object that is then given to fetch's Headers
 * (what the undici hook does with it), and Node's own OutgoingMessage via
 * setHeader (what the http instrumentation does). Inject never throws, every
 * header written is an RFC 9110 token with a field-value (checked with
 * Node's validators, the fetch Headers class and this file's own regexes), and
 * the trace headers all carry the one extracted trace.
 * Deterministic: a seeded generator, a fixed number of cases.
 */
import { describe, expect, it } from 'vitest';
import http from 'node:http';
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  isSpanContextValid,
  type TextMapPropagator,
} from '@opentelemetry/api';
import { buildPropagator } from '../../src/propagators';
import { dropCounts } from '../../src/propagation/guard';
import type { PropagatorName } from '../../src/env';
import { FIELD_VALUE, TOKEN, utf8Bytes } from './wire';

const ALL: PropagatorName[] = ['tracecontext', 'baggage', 'b3', 'b3multi', 'jaeger'];
const COMBOS: PropagatorName[][] = [];
for (let mask = 1; mask < 1 << ALL.length; mask++) {
  const set = ALL.filter((_, i) => mask & (1 << i));
  COMBOS.push(set);
  if (set.length > 1) COMBOS.push([...set].reverse());
}
const CASES_PER_COMBO = 120;

/** mulberry32: small, seeded, the same sequence on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';

/** Pieces real attackers and broken clients send. Raw CR/LF/NUL appear too: non-HTTP carriers (message headers) can hold them. */
const HOSTILE_KEYS = [
  'a%20b',
  '%0D%0Ainjected',
  'k%00',
  '%0A',
  'caf%C3%A9',
  utf8Bytes('clé'),
  'a(b)',
  '%ZZ',
  '%',
  'k%2Cx',
  'tenant',
  'x y',
  'k\r\nx',
  '',
  '=',
  'k"q',
];
const HOSTILE_VALUES = [
  'v',
  '%0D%0Aset-cookie:%20x',
  '%00',
  '%0A',
  'a%20b',
  'caf%C3%A9',
  utf8Bytes('café 日本'),
  '%E0%A4%A',
  '%ZZ',
  'a+b',
  'x'.repeat(5000),
  '',
  ' spaced ',
  'v\r\nx',
  'v\u0000',
  'v\u2028',
  '\ud800',
  '"q"',
  'a;b',
];
const HOSTILE_PROPS = ['', ';p', ';p=%0A', ';p=\r\n', ';;;', `;${'x'.repeat(300)}`];
const TRACESTATE = [
  'vendor=ok',
  'UPPER=1,=x,,,k=v=w',
  `big=${'a'.repeat(600)}`,
  Array.from({ length: 40 }, (_, i) => `k${i}=v`).join(','),
  'k=v\r\nx',
  '\u00e9=2',
  '',
];
const B3 = [
  '0',
  '1',
  'd',
  'garbage',
  `${TID}-${SID}`,
  `${TID}-${SID}-1`,
  `${TID}-${SID}-0-${SID}`,
  `${'0'.repeat(32)}-${'0'.repeat(16)}-1`,
  'x'.repeat(4000),
  `${TID}-${SID}-1\r\n`,
];
const B3_IDS = [TID, SID, '0'.repeat(16), 'zz', 'a'.repeat(5000), `${TID}\r\n`, ''];
const SAMPLED = ['0', '1', 'true', 'false', 'd', 'garbage', '\r\n'];
const UBER = [`${TID}:${SID}:0:1`, `${TID}:${SID}:0:0`, 'a:b:c', '0:0:0:1', '%E0%A4%A', `${TID}:${SID}:0:1\r\n`, 'x'.repeat(600)];

function hostileHeaders(r: () => number): Record<string, string | string[]> {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const h: Record<string, string | string[]> = {};
  if (r() < 0.6) h.traceparent = r() < 0.8 ? `00-${TID}-${SID}-0${r() < 0.5 ? 1 : 0}` : pick(['garbage', `00-${TID}-${SID}-01\r\n`, `ff-${TID}-${SID}-01`]);
  if (r() < 0.4) h.tracestate = pick(TRACESTATE);
  if (r() < 0.8) {
    const members = r() < 0.1 ? 250 : 1 + Math.floor(r() * 8);
    const parts: string[] = [];
    for (let i = 0; i < members; i++) parts.push(`${pick(HOSTILE_KEYS)}${r() < 0.1 ? i : ''}=${pick(HOSTILE_VALUES)}${pick(HOSTILE_PROPS)}`);
    const text = parts.join(r() < 0.2 ? ' , ' : ',');
    h.baggage = r() < 0.1 ? [text, 'second=header'] : text;
  }
  if (r() < 0.4) h.b3 = pick(B3);
  if (r() < 0.4) {
    h['x-b3-traceid'] = pick(B3_IDS);
    h['x-b3-spanid'] = pick(B3_IDS);
  }
  if (r() < 0.3) h['x-b3-sampled'] = pick(SAMPLED);
  if (r() < 0.1) h['x-b3-flags'] = pick(['1', '0', 'x']);
  if (r() < 0.4) h['uber-trace-id'] = pick(UBER);
  const n = r() < 0.5 ? Math.floor(r() * 6) : 0;
  for (let i = 0; i < n; i++) h[`uberctx-${pick(HOSTILE_KEYS)}`] = pick(HOSTILE_VALUES);
  return h;
}

/** A problem with one written header, or undefined when Node, fetch and RFC 9110 all accept it. */
function invalid(k: string, v: unknown): string | undefined {
  if (typeof v !== 'string') return `${k}: value is ${typeof v}`;
  if (!TOKEN.test(k)) return `name ${JSON.stringify(k)}`;
  if (!FIELD_VALUE.test(v)) return `${k}: value ${JSON.stringify(v.slice(0, 80))}`;
  try {
    http.validateHeaderName(k);
    http.validateHeaderValue(k, v);
    new Headers([[k, v]]);
  } catch (e) {
    return `${k}: ${(e as Error).message}`;
  }
  return undefined;
}

function runCase(p: TextMapPropagator, names: readonly PropagatorName[], incoming: Record<string, string | string[]>): string[] {
  const problems: string[] = [];
  const parent = p.extract(ROOT_CONTEXT, incoming, defaultTextMapGetter);
  // A child, as the CLIENT span of an outgoing call is.
  const psc = trace.getSpanContext(parent);
  const ctx = psc && isSpanContextValid(psc) ? trace.setSpanContext(parent, { ...psc, spanId: 'aaaaaaaaaaaaaaaa', isRemote: false }) : parent;

  // The undici hook's carrier: a plain object, then each entry added to the request.
  const plain: Record<string, unknown> = {};
  try {
    p.inject(ctx, plain, defaultTextMapSetter);
  } catch (e) {
    problems.push(`inject into an object threw ${(e as Error).message}`);
  }
  for (const [k, v] of Object.entries(plain)) {
    const bad = invalid(k, v);
    if (bad) problems.push(bad);
  }
  // The http instrumentation's carrier: Node's setHeader, which throws on what it refuses.
  const msg = new http.OutgoingMessage();
  try {
    p.inject(ctx, msg, { set: (m, k, v) => m.setHeader(k, v) });
  } catch (e) {
    problems.push(`inject through setHeader threw ${(e as Error).message}`);
  }
  const names2 = Object.keys(msg.getHeaders()).sort();
  if (
    names2.join() !==
    Object.keys(plain)
      .map((k) => k.toLowerCase())
      .sort()
      .join()
  )
    problems.push(`setHeader got ${names2.join()} but the object got ${Object.keys(plain).join()}`);

  // Every trace header names the same trace, and each configured one is there when there is a trace.
  const sc = trace.getSpanContext(ctx);
  if (sc && isSpanContextValid(sc)) {
    const sampled = (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
    const expect1 = (name: string, ok: (v: string) => boolean): void => {
      const v = plain[name];
      if (typeof v !== 'string' || !ok(v)) problems.push(`${name} = ${String(v)} for trace ${sc.traceId}`);
    };
    if (names.includes('tracecontext')) expect1('traceparent', (v) => v === `00-${sc.traceId}-${sc.spanId}-0${sampled ? 1 : 0}`);
    if (names.includes('b3') && !names.includes('b3multi')) expect1('b3', (v) => v.startsWith(`${sc.traceId}-${sc.spanId}-`));
    if (names.includes('b3multi')) expect1('x-b3-traceid', (v) => v === sc.traceId);
    if (names.includes('jaeger')) expect1('uber-trace-id', (v) => v === `${sc.traceId}:${sc.spanId}:0:${sampled ? 1 : 0}`);
  }
  // What goes out as baggage stays within the W3C limits, whatever came in.
  const bag = plain.baggage;
  if (typeof bag === 'string' && (bag.length > 8192 || bag.split(',').length > 180))
    problems.push(`baggage of ${bag.length} bytes, ${bag.split(',').length} members`);
  const uberctx = Object.entries(plain).filter(([k]) => k.startsWith('uberctx-'));
  if (uberctx.reduce((n, [k, v]) => n + k.length + String(v).length, 0) > 8192) problems.push('uberctx-* over 8192 bytes');
  return problems;
}

describe('inject fuzz: hostile incoming headers, every propagator combination', () => {
  it(`${COMBOS.length} combinations x ${CASES_PER_COMBO} seeded cases: never throws, writes only valid header names and values, one trace everywhere`, () => {
    const failures: string[] = [];
    let cases = 0;
    COMBOS.forEach((names, ci) => {
      const p = buildPropagator(names);
      const r = rng(0x5eed + ci);
      for (let i = 0; i < CASES_PER_COMBO; i++) {
        const incoming = hostileHeaders(r);
        cases++;
        for (const problem of runCase(p, names, incoming))
          if (failures.length < 20) failures.push(`[${names.join(',')}] case ${i} ${JSON.stringify(incoming).slice(0, 300)}: ${problem}`);
      }
    });
    expect(cases).toBe(COMBOS.length * CASES_PER_COMBO);
    expect(failures).toEqual([]);
  });

  it('what cannot be carried is counted: "a%20b=1" costs the one jaeger header, nothing else', () => {
    const p = buildPropagator(['tracecontext', 'baggage', 'jaeger']);
    const ctx = p.extract(ROOT_CONTEXT, { traceparent: `00-${TID}-${SID}-01`, baggage: 'a%20b=1,tenant=acme' }, defaultTextMapGetter);
    expect(propagation.getBaggage(ctx)?.getEntry('a b')?.value).toBe('1');
    const before = dropCounts.dropped;
    const out: Record<string, string> = {};
    p.inject(ctx, out, defaultTextMapSetter);
    expect(dropCounts.dropped - before).toBe(1);
    expect(out).toEqual({ traceparent: `00-${TID}-${SID}-01`, baggage: 'a%20b=1,tenant=acme', 'uber-trace-id': `${TID}:${SID}:0:1`, 'uberctx-tenant': 'acme' });
  });

  it('a carrier that refuses a field costs that field only, and is counted', () => {
    const p = buildPropagator(['tracecontext', 'baggage']);
    const ctx = p.extract(ROOT_CONTEXT, { traceparent: `00-${TID}-${SID}-01`, baggage: 'k=v' }, defaultTextMapGetter);
    const before = dropCounts.dropped;
    const out: Record<string, string> = {};
    p.inject(ctx, out, {
      set(c, k, v) {
        if (k === 'traceparent') throw new Error('headers already sent');
        c[k] = v;
      },
    });
    expect(out).toEqual({ baggage: 'k=v' });
    expect(dropCounts.dropped - before).toBe(1);
  });

  it('SQS/SNS message attributes: at most 10, names SQS accepts (uberctx keys with other token characters are dropped)', () => {
    const p = buildPropagator(['tracecontext', 'baggage', 'jaeger']);
    const members = ['ok_1=1', 'bad!key=2', ...Array.from({ length: 12 }, (_, i) => `k${i}=v`)].join(',');
    const ctx = p.extract(ROOT_CONTEXT, { traceparent: `00-${TID}-${SID}-01`, baggage: members }, defaultTextMapGetter);
    // The aws-sdk instrumentation's setter: each field becomes a String message attribute.
    const attrs: Record<string, { DataType: string; StringValue: string }> = { existing: { DataType: 'String', StringValue: 'x' } };
    p.inject(ctx, attrs, { set: (c, k, v) => (c[k] = { DataType: 'String', StringValue: v }) });
    const names = Object.keys(attrs);
    expect(names.length).toBe(10);
    expect(names.slice(0, 4)).toEqual(['existing', 'traceparent', 'baggage', 'uber-trace-id']);
    expect(names).toContain('uberctx-ok_1');
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_.-]+$/);
  });
});
