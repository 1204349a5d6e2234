/**
 * W3C Trace Context Level 2 as the agent propagates it, end to end: a plain
 * service under the agent (CJS and ESM) receives exactly these header lines
 * and calls back with fetch() and with http.request(); the callbacks show
 * what went out. Each behaviour the official suite checks at SPEC_LEVEL=2
 * STRICT_LEVEL=2 has a case here, written from the spec (w3.org/TR/trace-context-2),
 * so CI catches a regression without the suite (docs/guarantees.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { spansOf } from '../http/helpers';
import { startW3CService, traceparentOf, tracestateLines, tracestateOf, type W3CService } from './w3c-harness';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';
const TP = `00-${TID}-${SID}-01`;
const SAMPLED = 0x01;
const RANDOM = 0x02;

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

describe.each([
  ['cjs', 'fetch'],
  ['cjs', 'http'],
  ['mjs', 'fetch'],
  ['mjs', 'http'],
] as const)('W3C Trace Context Level 2 through a traced service (%s, %s)', (ext, client) => {
  const service = `w3c-${ext}-${client}`;
  let svc: W3CService;
  beforeAll(async () => {
    svc = await startW3CService(ext, client, rx.url, { OTEL_SERVICE_NAME: service });
  });
  afterAll(async () => {
    const r = await svc.stop();
    expect(r.code, r.stderr).toBe(0);
  });

  const one = async (headers: [string, string][]) => (await svc.call(headers))[0]!;
  /** The trace id that went out for these incoming headers. */
  const traceOut = async (headers: [string, string][]) => traceparentOf(await one(headers)).traceId;
  /** The tracestate members that went out with a valid traceparent and these tracestate lines. */
  const stateOut = async (...lines: string[]) => tracestateOf(await one([['traceparent', TP], ...lines.map((l): [string, string] => ['tracestate', l])]));

  describe('traceparent', () => {
    it('none: a new trace with a random trace id (random flag set), sampled by the default sampler', async () => {
      const tp = traceparentOf(await one([]));
      expect(tp.version).toBe('00');
      expect(tp.flags).toBe(SAMPLED | RANDOM);
    });

    it('a valid one is continued: same trace id, this service’s span as the new parent id; the name in any case', async () => {
      for (const name of ['traceparent', 'TraceParent', 'TRACEPARENT']) {
        const tp = traceparentOf(await one([[name, TP]]));
        expect([tp.traceId, tp.flags], name).toEqual([TID, SAMPLED]);
        expect(tp.parentId).not.toBe(SID);
      }
    });

    it('several callbacks: one trace, a different parent id each', async () => {
      const out = (await svc.call([['traceparent', TP]], 3)).map(traceparentOf);
      expect(new Set(out.map((t) => t.traceId))).toEqual(new Set([TID]));
      expect(new Set(out.map((t) => t.parentId)).size).toBe(3);
      const fresh = (await svc.call([], 3)).map(traceparentOf);
      expect(new Set(fresh.map((t) => t.parentId)).size).toBe(3);
    });

    it.each([
      [
        'twice',
        [
          ['traceparent', `00-${'1'.repeat(32)}-${SID}-01`],
          ['traceparent', TP],
        ],
      ],
      ['under another name', [['trace-parent', TP]]],
      ['version ff (forbidden)', [['traceparent', `ff-${TID}-${SID}-01`]]],
      ['version 00 with anything after it', [['traceparent', `${TP}-extra`]]],
      ['version 00 with one more character', [['traceparent', `${TP}.`]]],
      ['a future version whose extra part does not start with a dash', [['traceparent', `cc-${TID}-${SID}-01.later`]]],
      ['a version of one digit', [['traceparent', `0-${TID}-${SID}-01`]]],
      ['a version of three digits', [['traceparent', `000-${TID}-${SID}-01`]]],
      ['a version that is not hex', [['traceparent', `0x-${TID}-${SID}-01`]]],
      ['an all-zero trace id', [['traceparent', `00-${'0'.repeat(32)}-${SID}-01`]]],
      ['a trace id one digit short', [['traceparent', `00-${TID.slice(1)}-${SID}-01`]]],
      ['a trace id one digit long', [['traceparent', `00-${TID}a-${SID}-01`]]],
      ['an upper-case trace id', [['traceparent', `00-${TID.toUpperCase()}-${SID}-01`]]],
      ['a trace id with a dot', [['traceparent', `00-${TID.slice(0, 31)}.-${SID}-01`]]],
      ['an all-zero parent id', [['traceparent', `00-${TID}-${'0'.repeat(16)}-01`]]],
      ['a parent id one digit short', [['traceparent', `00-${TID}-${SID.slice(1)}-01`]]],
      ['a parent id one digit long', [['traceparent', `00-${TID}-${SID}0-01`]]],
      ['a parent id with a dot', [['traceparent', `00-${TID}-.${SID.slice(1)}-01`]]],
      ['flags of one digit', [['traceparent', `00-${TID}-${SID}-1`]]],
      ['flags of three digits', [['traceparent', `00-${TID}-${SID}-001`]]],
      ['flags that are not hex', [['traceparent', `00-${TID}-${SID}-0.`]]],
    ] as [string, [string, string][]][])('invalid (%s): ignored, a new trace starts', async (_what, headers) => {
      const out = await traceOut(headers);
      expect(out).not.toBe(TID);
      expect(out).not.toBe('1'.repeat(32));
      expect(out).not.toBe('0'.repeat(32));
    });

    it('a future version is read as 00 when what follows the 00 fields starts with a dash; the output is version 00', async () => {
      for (const v of [`cc-${TID}-${SID}-01`, `cc-${TID}-${SID}-01-what-comes-later`]) {
        const tp = traceparentOf(await one([['traceparent', v]]));
        expect([tp.version, tp.traceId], v).toEqual(['00', TID]);
      }
    });

    it('spaces and tabs around the value are not part of it', async () => {
      for (const v of [` ${TP}`, `\t${TP}`, `${TP} `, `${TP}\t`, `\t ${TP} \t`]) expect(await traceOut([['traceparent', v]]), JSON.stringify(v)).toBe(TID);
    });
  });

  describe('trace flags (Level 2)', () => {
    it('the random flag goes out exactly as it came in, sampled or not; unknown flags go out as zero', async () => {
      for (const [inFlags, outFlags] of [
        ['00', 0x00],
        ['01', 0x01],
        ['02', 0x02],
        ['03', 0x03],
        ['ff', 0x03],
        ['fe', 0x02],
      ] as const) {
        const tp = traceparentOf(await one([['traceparent', `00-${TID}-${SID}-${inFlags}`]]));
        expect([tp.traceId, tp.flags], `in ${inFlags}`).toEqual([TID, outFlags]);
      }
    });
  });

  describe('tracestate', () => {
    it('passed on with a valid traceparent, the name in any case; ignored without one', async () => {
      for (const name of ['tracestate', 'TraceState', 'TRACESTATE']) {
        expect(
          tracestateOf(
            await one([
              ['traceparent', TP],
              [name, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'],
            ]),
          ),
          name,
        ).toEqual([
          ['congo', 't61rcWkgMzE'],
          ['rojo', '00f067aa0ba902b7'],
        ]);
      }
      const orphan = await one([['tracestate', 'congo=t61rcWkgMzE']]);
      expect(tracestateLines(orphan)).toEqual([]);
      expect(await stateOut()).toEqual([]);
      expect(
        tracestateLines(
          await one([
            ['traceparent', TP],
            ['trace-state', 'congo=1'],
          ]),
        ),
      ).toEqual([]);
    });

    it('several tracestate lines are one list, in order; empty lines and members and OWS are nothing', async () => {
      expect(await stateOut('a=1,b=2', 'c=3', '', 'd=4')).toEqual([
        ['a', '1'],
        ['b', '2'],
        ['c', '3'],
        ['d', '4'],
      ]);
      expect(await stateOut('a=1 \t , \t b=2,\t,,c=3\t')).toEqual([
        ['a', '1'],
        ['b', '2'],
        ['c', '3'],
      ]);
    });

    it('no empty tracestate header: not for an empty one received, nor when every member was invalid', async () => {
      for (const lines of [[''], [' , '], ['FOO=1'], ['a=1', 'B=2'], ['=1']]) {
        const s = await one([['traceparent', TP], ...lines.map((l): [string, string] => ['tracestate', l])]);
        expect(tracestateLines(s), JSON.stringify(lines)).toEqual([]);
      }
    });

    it('keys: the current grammar, @ allowed anywhere after the first character', async () => {
      for (const key of [
        'foo@',
        'foo@@bar',
        'foo@bar@baz',
        't@vvvvvvvvvvvvvvv',
        `${'t'.repeat(242)}@v`,
        `${'t'.repeat(241)}@${'v'.repeat(14)}`,
        'z'.repeat(256),
        '0abc',
        'a_-*/@',
      ]) {
        expect(await stateOut(`${key}=1,bar=2`), key.slice(0, 20)).toEqual([
          [key, '1'],
          ['bar', '2'],
        ]);
      }
    });

    it.each([
      ['a key of 257 characters', ['foo=1', `${'z'.repeat(257)}=1`]],
      ['a key that starts with @', ['@foo=1,bar=2']],
      ['an upper-case key', ['FOO=1,bar=2']],
      ['a key with a dot', ['foo.bar=1,bar=2']],
      ['a key with a space before =', ['foo =1,bar=2']],
      ['a member without =', ['foo,bar=2']],
      ['an empty value', ['foo=,bar=3']],
      ['a value with =', ['foo=bar=baz']],
      ['a value of 257 characters', [`foo=${'v'.repeat(257)}`, 'bar=2']],
      ['a value with a tab', ['foo=a\tb,bar=2']],
      ['33 members', [Array.from({ length: 33 }, (_, i) => `k${i}=${i}`).join(',')]],
    ] as [string, string[]][])('invalid (%s): the whole tracestate is discarded', async (_what, lines) => {
      const s = await one([['traceparent', TP], ...lines.map((l): [string, string] => ['tracestate', l])]);
      expect(traceparentOf(s).traceId).toBe(TID);
      expect(tracestateLines(s)).toEqual([]);
    });

    it('32 members over several lines are all kept; a repeated key is kept once', async () => {
      const members = Array.from({ length: 32 }, (_, i) => `k${String(i).padStart(2, '0')}=${i}`);
      const out = await stateOut(members.slice(0, 10).join(','), members.slice(10, 31).join(','), members[31]!);
      expect(out.map(([k, v]) => `${k}=${v}`)).toEqual(members);
      expect(await stateOut('foo=1,foo=2', 'foo=3')).toEqual([['foo', '1']]);
    });

    it('every allowed character of keys and values passes; a value keeps its leading spaces', async () => {
      const key = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/';
      let value = '';
      for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) value += String.fromCharCode(c);
      expect(await stateOut(`${key}=${value}`)).toEqual([[key, value]]);
      expect(await stateOut('foo=  1')).toEqual([['foo', '  1']]);
    });

    it('over 512 characters, whole entries go: the long ones (over 128) first, then from the right', async () => {
      const long = `big=${'x'.repeat(200)}`;
      const small = Array.from({ length: 12 }, (_, i) => `k${i}=${'v'.repeat(36)}`); // 12 x 40 characters
      const out = (await stateOut([small[0], long, ...small.slice(1)].join(','))).map(([k, v]) => `${k}=${v}`);
      expect(out).toEqual(small.slice(0, 12)); // 12 x 40 + 11 commas = 491: fits once big is gone
      const many = Array.from({ length: 20 }, (_, i) => `m${String(i).padStart(2, '0')}=${'v'.repeat(36)}`);
      const kept = (await stateOut(many.join(','))).map(([k, v]) => `${k}=${v}`);
      expect(kept).toEqual(many.slice(0, 12));
    });
  });

  it('what the service exported: its SERVER span continues the caller with the random flag and the tracestate', async () => {
    const caller = 'b7ad6b7169203331'; // used by no other case
    await one([
      ['traceparent', `00-${TID}-${caller}-03`],
      ['tracestate', 'congo=t61rcWkgMzE'],
    ]);
    const continued = (s: RecvSpan) => s.kind === 'SERVER' && s.parentSpanId === caller;
    await rx.waitForSpans(() => spansOf(rx, service).some(continued));
    const server = spansOf(rx, service).find(continued)!;
    expect(server.traceId).toBe(TID);
    expect(server.flags! & 0xff).toBe(SAMPLED | RANDOM);
    expect(server.traceState).toBe('congo=t61rcWkgMzE');
  });
});
