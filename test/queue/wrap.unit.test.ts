/**
 * The wrapper semantics, in process against a real SDK tracer: what a hooked
 * function does to spans, to the payload and to the caller (values, errors,
 * callbacks). Module loading (require/import) is covered by the fixture tests.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { context, propagation, trace, SpanKind, SpanStatusCode, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, TraceState, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { parseHook } from '../../src/instrumentations/queue-hooks/grammar';
import { wrapFunction, isWrapped, type HookRuntime, type ResolvedHook } from '../../src/instrumentations/queue-hooks/wrap';
import { applyHook } from '../../src/instrumentations/queue-hooks/patch';

/** Synchronous: a span is visible the moment it ends, so tests can tell "not ended yet" from "ended". */
const ended: ReadableSpan[] = [];
const collect: SpanProcessor = {
  onStart: () => undefined,
  onEnd: (s) => void ended.push(s),
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};
const provider = new TracerProvider({ spanProcessors: [collect] });
const warnings: string[] = [];
const rt: HookRuntime = {
  tracer: provider.getTracer('test'),
  warnOnce: (k, m) => {
    if (!warnings.some((w) => w.startsWith(k + '|'))) warnings.push(`${k}|${m}`);
  },
  enabled: () => true,
};
const cm = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(cm.enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
});
afterAll(() => {
  context.disable();
  propagation.disable();
});
beforeEach(() => {
  ended.length = 0;
  warnings.length = 0;
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- hooks wrap functions of any signature
type Fn = (...a: any[]) => any;
function hook(text: string, fn: Fn): Fn & { h: ResolvedHook } {
  const h: ResolvedHook = { spec: parseHook(text), moduleBase: 'mod', calls: 0, state: 'patched' };
  const w = wrapFunction(h, fn, rt) as Fn & { h: ResolvedHook };
  w.h = h;
  return w;
}
const spans = (): ReadableSpan[] => ended;
const named = (n: string): ReadableSpan[] => spans().filter((s) => s.name === n);
const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Work that runs where no span is active, as a worker loop picking up a task does. */
const inRoot = <T>(f: () => T): T => context.with(ROOT_CONTEXT, f);

describe('submit', () => {
  it('writes traceparent, tracestate and baggage under _otel before the original runs, beside the user fields', () => {
    let seenInside: unknown;
    const submit = hook('./q.js#submit=submit(arg1, queue=orders, system=oq)', (_type: string, input: Record<string, unknown>) => {
      seenInside = JSON.parse(JSON.stringify(input));
      return 'task-1';
    });
    // The request arrived with a tracestate entry: it must travel with the task too.
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
      isRemote: true,
      traceState: new TraceState('vendor=opaque'),
    });
    const parent = rt.tracer.startSpan('request', {}, remote);
    const bag = propagation.createBaggage({ tenant: { value: 'acme' } });
    const input = { orderId: 7, otel: 'user field kept' };
    const ret = context.with(propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, parent), bag), () => submit('order', input));
    parent.end();
    expect(ret).toBe('task-1');
    const pub = spans().find((s) => s.name === 'publish orders')!;
    expect(pub.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(pub)).toBe(parent.spanContext().spanId);
    expect(pub.attributes).toMatchObject({
      'messaging.system': 'oq',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': 'orders',
    });
    const carried = (seenInside as { _otel: Record<string, string> })._otel;
    expect(carried.traceparent).toBe(`00-${pub.spanContext().traceId}-${pub.spanContext().spanId}-01`);
    expect(carried.tracestate).toBe('vendor=opaque');
    expect(carried.baggage).toBe('tenant=acme');
    expect(seenInside).toMatchObject({ orderId: 7, otel: 'user field kept' });
  });

  it('uses the configured key, and takes the message id from the return value', async () => {
    const submit = hook('./q.js#submit=submit(arg0, key=__ctx, id=return.id)', async (input: object) => ({ id: 'abc-123', input }));
    const input: Record<string, unknown> = {};
    const out = await submit(input);
    expect(out).toEqual({ id: 'abc-123', input });
    expect(Object.keys(input)).toEqual(['__ctx']);
    expect(one('publish').attributes['messaging.message.id']).toBe('abc-123');
  });

  it('warns once (naming the hook) when the carrier is not an object, and still records the span', () => {
    const submit = hook('./q.js#submit=submit(arg0)', (s: string) => s.length);
    expect(submit('a string payload')).toBe(16);
    expect(submit('again')).toBe(5);
    expect(named('publish')).toHaveLength(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('hook "./q.js#submit=submit(arg0)": arg0 is a string, not an object');
  });

  it('runs the original inside the PRODUCER span, so its own I/O nests under it', () => {
    let inner: string | undefined;
    const submit = hook('./q.js#submit=submit(arg0)', () => {
      inner = trace.getActiveSpan()?.spanContext().spanId;
    });
    inRoot(() => submit({}));
    expect(inner).toBe(one('publish').spanContext().spanId);
  });
});

function one(name: string): ReadableSpan {
  const s = named(name);
  if (s.length !== 1)
    throw new Error(
      `expected one ${name}, got ${spans()
        .map((x) => x.name)
        .join(', ')}`,
    );
  return s[0]!;
}

describe('execute', () => {
  const submitted = (): { task: { id: string; input: Record<string, unknown> }; producer: ReadableSpan } => {
    const submit = hook('./q.js#submit=submit(arg0.input, queue=orders)', (t: object) => JSON.parse(JSON.stringify(t)));
    const task = inRoot(() => submit({ id: 't1', input: { n: 1 } }));
    return { task, producer: one('publish orders') };
  };

  it("continues the submitter's trace: CONSUMER span whose parent is the PRODUCER span", async () => {
    const { task, producer } = submitted();
    const execute = hook('./w.js#execute=execute(arg0.input, queue=orders, id=arg0.id)', async (t: { id: string }) => `done ${t.id}`);
    const r = await inRoot(() => execute(task));
    expect(r).toBe('done t1');
    const proc = one('process orders');
    expect(proc.kind).toBe(SpanKind.CONSUMER);
    expect(proc.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(parentOf(proc)).toBe(producer.spanContext().spanId);
    expect(proc.attributes).toMatchObject({ 'messaging.operation.type': 'process', 'messaging.message.id': 't1', 'messaging.destination.name': 'orders' });
    expect(proc.links).toEqual([]);
  });

  it('link mode: a new trace with a link to the PRODUCER span', async () => {
    const { task, producer } = submitted();
    const execute = hook('./w.js#execute=execute(arg0.input, link)', async () => 1);
    await inRoot(() => execute(task));
    const proc = one('process');
    expect(proc.spanContext().traceId).not.toBe(producer.spanContext().traceId);
    expect(parentOf(proc)).toBeUndefined();
    expect(proc.links).toHaveLength(1);
    expect(proc.links[0]!.context.spanId).toBe(producer.spanContext().spanId);
    expect(proc.links[0]!.context.traceId).toBe(producer.spanContext().traceId);
  });

  it('a task that carries no context, or garbage, gets a root span and runs normally', async () => {
    const execute = hook('./w.js#execute=execute(arg0.input)', (t: { input: unknown }) => t.input);
    const payloads: unknown[] = [
      {},
      { _otel: 'not an object' },
      { _otel: { traceparent: 'garbage' } },
      { _otel: { traceparent: 42, tracestate: {} } },
      { _otel: { traceparent: '00-00000000000000000000000000000000-0000000000000000-01' } },
      { _otel: [] },
      {
        get _otel() {
          throw new Error('getter throws');
        },
      },
    ];
    const active = rt.tracer.startSpan('ambient poll loop');
    for (const p of payloads) expect(context.with(trace.setSpan(ROOT_CONTEXT, active), () => execute({ input: p }))).toBe(p);
    active.end();
    const procs = named('process');
    expect(procs).toHaveLength(payloads.length);
    // Not even the ambient span: a task's parent is what the task carries.
    for (const s of procs) expect(parentOf(s)).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('a retried task: one span per attempt, each a child of the same PRODUCER span, with its attempt number', async () => {
    const { task, producer } = submitted();
    let calls = 0;
    const boom = new Error('flaky');
    const execute = hook('./w.js#execute=execute(arg0.input, attempt=arg0.attempt)', async () => {
      calls++;
      if (calls < 3) throw boom;
      return 'ok';
    });
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await inRoot(() => execute({ ...task, attempt }));
      } catch (e) {
        expect(e).toBe(boom);
      }
    }
    const procs = named('process').sort((a, b) => Number(a.attributes['task.attempt']) - Number(b.attributes['task.attempt']));
    expect(procs.map((s) => s.attributes['task.attempt'])).toEqual([1, 2, 3]);
    expect(procs.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    for (const s of procs) expect(parentOf(s)).toBe(producer.spanContext().spanId);
  });

  it('a task that submits another task while executing: the chain stays one trace', async () => {
    const queue: object[] = [];
    const submit = hook('./q.js#submit=submit(arg0.input)', (t: object) => void queue.push(JSON.parse(JSON.stringify(t))));
    const execute = hook('./w.js#execute=execute(arg0.input)', async (t: { input: { step: number } }) => {
      await tick();
      if (t.input.step < 3) submit({ input: { step: t.input.step + 1 } });
    });
    inRoot(() => submit({ input: { step: 1 } }));
    while (queue.length) await inRoot(() => execute(queue.shift()));
    const pubs = named('publish');
    const procs = named('process');
    expect(pubs).toHaveLength(3);
    expect(procs).toHaveLength(3);
    expect(new Set(spans().map((s) => s.spanContext().traceId)).size).toBe(1);
    // publish(1) <- process(1) <- publish(2) <- process(2) <- publish(3) <- process(3)
    const byId = new Map(spans().map((s) => [s.spanContext().spanId, s]));
    const leaf = procs.find((p) => !pubs.some((q) => parentOf(q) === p.spanContext().spanId))!;
    const chain: string[] = [];
    for (let s: ReadableSpan | undefined = leaf; s; s = byId.get(parentOf(s) ?? '')) chain.push(s.name);
    expect(chain).toEqual(['process', 'publish', 'process', 'publish', 'process', 'publish']);
  });
});

describe('sync, async and callback functions', () => {
  it('sync: the return value is untouched and the span ends on return', () => {
    const result = { big: 'object' };
    const f = hook('./m.js#run=span()', () => result);
    expect(f()).toBe(result);
    expect(one('run').kind).toBe(SpanKind.INTERNAL);
    expect(one('run').attributes['code.function.name']).toBe('run');
  });

  it('sync throw: the very same error is rethrown, recorded, status ERROR', () => {
    class TaskError extends Error {}
    const err = new TaskError('bad input');
    const f = hook('./m.js#run=span()', () => {
      throw err;
    });
    let caught: unknown;
    try {
      f();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(err);
    const s = one('run');
    expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bad input' });
    expect(s.attributes['error.type']).toBe('TaskError');
    expect(s.events.find((e) => e.name === 'exception')?.attributes?.['exception.message']).toBe('bad input');
  });

  it('a thrown non-Error value is rethrown as is', () => {
    const f = hook('./m.js#run=span()', () => {
      throw 'plain string';
    });
    expect(() => f()).toThrow('plain string');
    expect(one('run').status.code).toBe(SpanStatusCode.ERROR);
  });

  it('async: resolves with the same value, the span ends when the promise settles', async () => {
    let release!: (v: unknown) => void;
    const value = { v: 1 };
    const f = hook('./m.js#run=span()', () => new Promise((r) => (release = r)));
    const p = f();
    await tick();
    expect(named('run')).toHaveLength(0);
    release(value);
    expect(await p).toBe(value);
    expect(one('run').status.code).toBe(SpanStatusCode.UNSET);
  });

  it('async rejection: the same error reaches the caller, span ERROR', async () => {
    const err = new Error('rejected');
    const f = hook('./m.js#run=span()', async () => {
      await tick();
      throw err;
    });
    await expect(f()).rejects.toBe(err);
    expect(one('run').status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'rejected' });
  });

  it("Node-style callback: the span ends when the callback is called, which runs in the caller's context", async () => {
    const f = hook('./m.js#run=span()', (x: number, cb: (e: Error | null, r?: number) => void) => {
      setTimeout(() => cb(null, x * 2), 5);
    });
    const caller = rt.tracer.startSpan('caller');
    const got = await new Promise<{ r?: number; active?: string }>((resolve) =>
      context.with(trace.setSpan(ROOT_CONTEXT, caller), () =>
        f(21, (_e: Error | null, r?: number) => resolve({ r, active: trace.getActiveSpan()?.spanContext().spanId })),
      ),
    );
    caller.end();
    expect(got.r).toBe(42);
    expect(got.active).toBe(caller.spanContext().spanId);
    const s = one('run');
    expect(parentOf(s)).toBe(caller.spanContext().spanId);
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('Node-style callback with an error: recorded, and the callback gets the same error', async () => {
    const err = new Error('callback failure');
    const f = hook('./m.js#run=span()', (cb: (e: Error) => void) => setImmediate(() => cb(err)));
    const got = await new Promise((resolve) => f(resolve));
    expect(got).toBe(err);
    expect(one('run').status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'callback failure' });
  });

  it('a callback API that returns a value (as stream.write does) still ends on the callback', async () => {
    const f = hook('./m.js#write=span()', (_chunk: string, cb: (e?: Error | null) => void) => {
      setTimeout(() => cb(null), 5);
      return true;
    });
    let done!: () => void;
    const called = new Promise<void>((r) => (done = r));
    expect(f('x', () => done())).toBe(true);
    expect(named('write')).toHaveLength(0);
    await called;
    expect(named('write')).toHaveLength(1);
  });

  it('a handler function passed last is not mistaken for a callback: sync return ends the span, no error', () => {
    const execute = hook('./w.js#execute=execute(arg0)', (task: object, handler: (t: object) => string) => handler(task));
    expect(execute({ id: 1 }, (t: object) => `handled ${JSON.stringify(t)}`)).toMatch(/^handled/);
    expect(one('process').status.code).toBe(SpanStatusCode.UNSET);
  });

  it('async function with a handler argument: the promise, not the handler call, ends the span', async () => {
    let handlerCalledAt = 0;
    const execute = hook('./w.js#execute=execute(arg0)', async (task: object, handler: (t: object) => void) => {
      handler(task);
      handlerCalledAt = named('process').length;
      await tick();
      return 'done';
    });
    expect(await execute({}, () => undefined)).toBe('done');
    expect(handlerCalledAt).toBe(0);
    expect(named('process')).toHaveLength(1);
  });

  it('callback=none: a void function ends on return even with a function argument', () => {
    const f = hook('./m.js#register=span(callback=none)', (_fn: () => void) => undefined);
    f(() => undefined);
    expect(named('register')).toHaveLength(1);
  });

  it('callback=arg1: any non-null first argument counts as the error', async () => {
    const f = hook('./m.js#run=span(callback=arg1)', (_x: unknown, cb: (e: unknown) => void, _opts: object) => setImmediate(() => cb('failed: disk full')));
    await new Promise((r) => f(1, r, {}));
    expect(one('run').status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'failed: disk full' });
  });

  it('keeps name, length and static members, and `new` still constructs', () => {
    function Original(this: { a: number }, a: number, _b: number) {
      this.a = a;
    }
    (Original as unknown as { helper: () => string }).helper = () => 'static';
    const W = hook('./m.js#Original=span()', Original as unknown as Fn) as unknown as { new (a: number, b: number): { a: number }; helper(): string } & Fn;
    expect(W.name).toBe('Original');
    expect(W.length).toBe(2);
    expect(W.helper()).toBe('static');
    const o = new W(5, 6);
    expect(o.a).toBe(5);
    expect(o).toBeInstanceOf(Original);
    expect(isWrapped(W)).toBe(true);
  });
});

describe('finding and replacing the function (applyHook)', () => {
  const resolved = (text: string): ResolvedHook => ({ spec: parseHook(text), moduleBase: 'mod', calls: 0, state: 'pending' });

  it('Class.prototype.method: patched on the shared prototype, so this.method() calls are traced too', () => {
    class Worker {
      run(): string {
        return this.claim();
      }
      claim(): string {
        return 'claimed';
      }
    }
    const exports = { Worker };
    expect(applyHook(exports, resolved('./w.js#Worker.prototype.claim=span()'), 'cjs', rt).error).toBeUndefined();
    expect(new Worker().run()).toBe('claimed');
    expect(one('Worker.claim').kind).toBe(SpanKind.INTERNAL);
    expect(Object.getOwnPropertyDescriptor(Worker.prototype, 'claim')?.enumerable).toBe(false);
  });

  it('CommonJS module.exports = fn hooked as default: the new exports keep the static members', () => {
    const fn = Object.assign((x: number) => x + 1, { version: '1.0' });
    const r = applyHook(fn, resolved('./h.js#default=span()'), 'cjs', rt);
    expect(r.error).toBeUndefined();
    const w = r.exports as typeof fn;
    expect(w).not.toBe(fn);
    expect(w(1)).toBe(2);
    expect(w.version).toBe('1.0');
    expect(one('mod').attributes['code.function.name']).toBe('mod');
  });

  it('CommonJS module.exports = class, hooked by its class name', () => {
    class TaskQueue {
      submit(t: object): object {
        return t;
      }
    }
    const r = applyHook(TaskQueue, resolved('./q.js#TaskQueue.prototype.submit=submit(arg0)'), 'cjs', rt);
    expect(r.error).toBeUndefined();
    new TaskQueue().submit({});
    expect(named('publish')).toHaveLength(1);
  });

  it('is idempotent: a second application does not wrap the wrapper', () => {
    const exports = { run: () => 1 };
    const h = resolved('./m.js#run=span()');
    applyHook(exports, h, 'cjs', rt);
    const first = exports.run;
    applyHook(exports, h, 'cjs', rt);
    expect(exports.run).toBe(first);
    exports.run();
    expect(named('run')).toHaveLength(1);
  });

  it('names what is there when the function is missing', () => {
    const r = applyHook({ submitTask: () => 1, other: () => 2, n: 3 }, resolved('./q.js#submit=submit(arg0)'), 'cjs', rt);
    expect(r.error).toBe('"submit" is nothing (undefined), not a function (functions there: submitTask, other)');
    const r2 = applyHook({ Queue: 5 }, resolved('./q.js#Queue.prototype.submit=submit(arg0)'), 'cjs', rt);
    expect(r2.error).toBe('"Queue" is a number, not an object or class');
  });

  it('explains a read-only re-export getter instead of failing silently', () => {
    const exports = {};
    Object.defineProperty(exports, 'submit', { enumerable: true, get: () => () => 1 });
    const r = applyHook(exports, resolved('./q.js#submit=submit(arg0)'), 'cjs', rt);
    expect(r.error).toMatch(/read-only getter \(usually a re-export: hook the module that defines the function\)/);
  });

  it("ESM namespace: assigns through the namespace (as import-in-the-middle's setter expects)", () => {
    const writes: string[] = [];
    const target: Record<string, unknown> = { execute: () => 'x' };
    const ns = new Proxy(target, {
      set(t, k, v) {
        writes.push(String(k));
        t[k as string] = v;
        return true;
      },
      defineProperty() {
        throw new Error('namespace properties are not definable');
      },
    });
    expect(applyHook(ns, resolved('./w.mjs#execute=execute(arg0)'), 'esm', rt).error).toBeUndefined();
    expect(writes).toEqual(['execute']);
    expect(isWrapped(target.execute)).toBe(true);
  });
});
