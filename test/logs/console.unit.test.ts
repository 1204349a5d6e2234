/**
 * The console correlation module in process, on a private Console writing to
 * buffers: what exactly a line looks like with and without an active span, and
 * that console's formatting is unchanged. The fixture tests in logs.test.ts cover
 * the agent wiring; these cover the shapes a fixture cannot enumerate.
 */
import { Writable } from 'node:stream';
import { Console } from 'node:console';
import { context, trace, TraceFlags, type Span, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { correlateLine, installConsoleCorrelation } from '../../src/instrumentations/console';

const SC: SpanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
const IDS = `trace_id=${SC.traceId} span_id=${SC.spanId} trace_flags=01`;

describe('correlateLine', () => {
  it.each([
    ['order 7 loaded', `order 7 loaded ${IDS}`],
    ['trailing newline kept after the ids\n', `trailing newline kept after the ids ${IDS}\n`],
    ['two\nlines', `two\nlines ${IDS}`],
    ['{"msg":"x","n":1}', `{"msg":"x","n":1,"trace_id":"${SC.traceId}","span_id":"${SC.spanId}","trace_flags":"01"}`],
    ['{"msg":"x" }', `{"msg":"x" ,"trace_id":"${SC.traceId}","span_id":"${SC.spanId}","trace_flags":"01"}`],
    ['{}', `{"trace_id":"${SC.traceId}","span_id":"${SC.spanId}","trace_flags":"01"}`],
    // Looks like an object but is not JSON (util.inspect output): plain suffix.
    ['{ a: 1 }', `{ a: 1 } ${IDS}`],
    ['[1,2]', `[1,2] ${IDS}`],
  ])('%j', (input, expected) => {
    expect(correlateLine(input, SC)).toBe(expected);
  });

  it('keeps JSON lines parseable, with the ids as string fields', () => {
    const out = JSON.parse(correlateLine('{"level":"info","msg":"paid"}', SC)!) as Record<string, unknown>;
    expect(out).toEqual({ level: 'info', msg: 'paid', trace_id: SC.traceId, span_id: SC.spanId, trace_flags: '01' });
  });

  it('leaves empty and already correlated lines alone', () => {
    expect(correlateLine('', SC)).toBeUndefined();
    expect(correlateLine('  \n', SC)).toBeUndefined();
    expect(correlateLine(`x trace_id=${SC.traceId}`, SC)).toBeUndefined();
    expect(correlateLine(`{"trace_id":"${SC.traceId}"}`, SC)).toBeUndefined();
  });
});

describe('installConsoleCorrelation on a Console', () => {
  let out = '';
  let err = '';
  const sink = (into: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        into(chunk.toString());
        cb();
      },
    });
  const con = new Console({ stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), colorMode: false });
  const provider = new TracerProvider();
  const tracer = provider.getTracer('console-test');
  let cm: AsyncLocalStorageContextManager;

  beforeAll(() => {
    cm = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(cm);
    expect(installConsoleCorrelation(con)).toBe(true);
  });
  afterAll(() => {
    context.disable();
  });

  /** Runs fn inside a recording span and returns that span's ids as they should print. */
  function inSpan(fn: () => void): string {
    const span: Span = tracer.startSpan('work');
    try {
      context.with(trace.setSpan(context.active(), span), fn);
    } finally {
      span.end();
    }
    const sc = span.spanContext();
    return `trace_id=${sc.traceId} span_id=${sc.spanId} trace_flags=01`;
  }
  const take = (): [string, string] => {
    const r: [string, string] = [out, err];
    out = '';
    err = '';
    return r;
  };

  it('patches once', () => {
    expect(installConsoleCorrelation(con)).toBe(false);
  });

  it('prints exactly what console prints when no span is active', () => {
    const plain = new Console({ stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), colorMode: false });
    const calls: unknown[][] = [['a %s b %s', 'x'], ['%d%%', 5], ['100%s'], [{ a: [1, { b: 2 }] }, 'tail'], [], [''], ['%o', { deep: { x: 1 } }]];
    for (const args of calls) plain.log(...args);
    plain.error('to stderr', 1);
    const expected = take();
    for (const args of calls) con.log(...args);
    con.error('to stderr', 1);
    expect(take()).toEqual(expected);
  });

  it('appends the ids inside a span, keeping console formatting', () => {
    const ids = inSpan(() => {
      con.log('order %s loaded', '7');
      con.info('several', 'args', { items: [1, 2] });
      con.debug({ only: 'an object' });
      con.log('unfilled %s and %s', 'one');
      con.log('literal 100%s');
      con.log('percent %d%%', 50);
      con.warn('careful');
      con.error(new Error('boom').message);
    });
    const [o, e] = take();
    expect(o.split('\n')).toEqual([
      `order 7 loaded ${ids}`,
      `several args { items: [ 1, 2 ] } ${ids}`,
      `{ only: 'an object' } ${ids}`,
      `unfilled one and %s ${ids}`,
      `literal 100%s ${ids}`,
      `percent 50% ${ids}`,
      '',
    ]);
    expect(e.split('\n')).toEqual([`careful ${ids}`, `boom ${ids}`, '']);
  });

  it('adds the ids as fields to a JSON line', () => {
    const ids = inSpan(() => con.log(JSON.stringify({ msg: 'paid', amount: 3 })));
    const [o] = take();
    const m = /trace_id=(\w+) span_id=(\w+)/.exec(ids)!;
    expect(JSON.parse(o) as object).toEqual({ msg: 'paid', amount: 3, trace_id: m[1], span_id: m[2], trace_flags: '01' });
  });

  it('leaves empty lines empty', () => {
    inSpan(() => {
      con.log();
      con.log('');
    });
    expect(take()).toEqual(['\n\n', '']);
  });

  it('adds nothing for a span that is not recorded (sampled out, or only propagated)', () => {
    context.with(trace.setSpan(context.active(), trace.wrapSpanContext(SC)), () => con.log('remote parent only'));
    expect(take()).toEqual(['remote parent only\n', '']);
  });

  it('keeps the group indentation console applies', () => {
    const ids = inSpan(() => {
      con.group('group');
      con.log('inside');
      con.groupEnd();
    });
    const [o] = take();
    expect(o).toBe(`group ${ids}\n  inside ${ids}\n`);
  });

  it('falls back to the untouched call if anything in the correlation throws', () => {
    const hostile = {
      [Symbol.for('nodejs.util.inspect.custom')]() {
        throw new Error('inspect refused');
      },
    };
    // The console itself throws for this argument; it must be the console's own error, with or without a span.
    expect(() => inSpan(() => con.log('%o', hostile))).toThrow('inspect refused');
    take();
  });
});
