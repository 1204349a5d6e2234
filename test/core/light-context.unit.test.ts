/**
 * LightContext (src/light-context.ts), the Context the agent's servers start
 * requests from, behaves as the API's BaseContext does: values inherited,
 * setValue/deleteValue returning new contexts and leaving the old ones as they
 * were, deleted keys reading as undefined, also past the depth where its links
 * are flattened, and read-through to a foreign base context.
 */
import { createContextKey, ROOT_CONTEXT, trace, context as api, INVALID_SPAN_CONTEXT, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIGHT_ROOT, LightContext } from '../../src/light-context';

const A = createContextKey('a');
const B = createContextKey('b');

/** The same operations on a BaseContext and on a LightContext must read the same. */
function both(ops: (c: Context) => Context, keys: symbol[]): void {
  const base = ops(ROOT_CONTEXT);
  const light = ops(LIGHT_ROOT);
  for (const k of keys) expect(light.getValue(k)).toBe(base.getValue(k));
}

describe('LightContext', () => {
  beforeAll(() => {
    api.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterAll(() => {
    api.disable();
  });

  it('inherits values and leaves the context it was derived from unchanged', () => {
    const one = LIGHT_ROOT.setValue(A, 1);
    const two = one.setValue(B, 2);
    const three = two.setValue(A, 3);
    expect([one.getValue(A), one.getValue(B)]).toEqual([1, undefined]);
    expect([two.getValue(A), two.getValue(B)]).toEqual([1, 2]);
    expect([three.getValue(A), three.getValue(B)]).toEqual([3, 2]);
    expect(LIGHT_ROOT.getValue(A)).toBeUndefined();
  });

  it('deletes a key in the new context only', () => {
    const c = LIGHT_ROOT.setValue(A, 1).setValue(B, 2);
    const d = c.deleteValue(A);
    expect(d.getValue(A)).toBeUndefined();
    expect(d.getValue(B)).toBe(2);
    expect(c.getValue(A)).toBe(1);
    expect(d.setValue(A, 5).getValue(A)).toBe(5);
  });

  it('reads the same as BaseContext through 100 derivations, across the flattening depth', () => {
    const keys = Array.from({ length: 5 }, (_, i) => createContextKey(`k${i}`));
    both((c) => {
      for (let i = 0; i < 100; i++) {
        const k = keys[i % keys.length]!;
        c = i % 7 === 3 ? c.deleteValue(k) : c.setValue(k, i);
      }
      return c;
    }, keys);
  });

  it('keeps the chain short: a context derived 10,000 times reads in a few links', () => {
    let c: Context = LIGHT_ROOT;
    for (let i = 0; i < 10_000; i++) c = c.setValue(A, i);
    expect(c.getValue(A)).toBe(9999);
    // depth is bounded (private): the flattened link is at most MAX_DEPTH away
    expect((c as unknown as { depth: number }).depth).toBeLessThanOrEqual(16);
  });

  it('reads through to a foreign base context, deletions included, also after flattening', () => {
    const base = ROOT_CONTEXT.setValue(A, 'from base').setValue(B, 'b');
    let c: Context = LightContext.over(base).deleteValue(B);
    expect(c.getValue(A)).toBe('from base');
    expect(c.getValue(B)).toBeUndefined();
    for (let i = 0; i < 40; i++) c = c.setValue(createContextKey(`x${i}`), i);
    expect(c.getValue(A)).toBe('from base');
    expect(c.getValue(B)).toBeUndefined();
    expect(c.getValue(createContextKey('x0'))).toBe(0);
  });

  it('works with the API: trace.setSpan / getSpan and context.with', () => {
    const span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const c = trace.setSpan(LIGHT_ROOT, span);
    expect(trace.getSpan(c)).toBe(span);
    expect(trace.getSpan(trace.deleteSpan(c))).toBeUndefined();
    expect(api.with(c, () => api.active())).toBe(c);
  });
});
