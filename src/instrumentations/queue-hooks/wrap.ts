/**
 * What a hooked function does when it is called: start the span its role asks
 * for, carry the trace context in (submit) or out of (execute) the task
 * payload, run the original in that span, and end the span when the work ends:
 * on return, when the returned promise settles, or when a Node-style callback
 * is called. Errors are recorded and rethrown as the very same object; the
 * return value (or the value a promise resolves to) is passed through as is.
 */
import { types } from 'node:util';
import {
  context,
  propagation,
  trace,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  isSpanContextValid,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { defaultSpanName, functionName, type HookSpec, type ValuePath } from './grammar';

// Messaging attributes are still "incubating" in the semantic-conventions package, whose
// guidance is to copy incubating names rather than import them (they may move between releases).
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
/** No convention names a task's attempt number; this one is ours and documented. */
export const ATTR_TASK_ATTEMPT = 'task.attempt';
export const ATTR_CODE_FUNCTION_NAME = 'code.function.name';
export const ATTR_ERROR_TYPE = 'error.type';

/** Marks our wrappers (value: the original) so a function is never wrapped twice. */
export const ORIGINAL = Symbol.for('@x/otel-agent/queue-hooks.original');

export interface ResolvedHook {
  spec: HookSpec;
  /** Absolute path of the module file, when it resolved to one. */
  file?: string;
  /** For span names of `default` exports. */
  moduleBase: string;
  /** Calls seen, so the agent can tell a hook that never fired from one that works. */
  calls: number;
  state: 'pending' | 'patched' | 'failed';
}

export interface HookRuntime {
  tracer: Tracer;
  warnOnce(key: string, msg: string): void;
  /** False after the instrumentation is disabled: wrappers then call straight through. */
  enabled(): boolean;
}

type AnyFn = (...args: unknown[]) => unknown;

const stringGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (c) => Object.keys(c),
  get: (c, k) => {
    const v = c[k];
    return typeof v === 'string' ? v : undefined;
  },
};

/** Reads a configured path without ever throwing into the app (getters may throw, values may be anything). */
export function readPath(p: ValuePath, self: unknown, args: readonly unknown[], ret?: unknown): unknown {
  try {
    let v: unknown = p.root === 'arg' ? args[p.index] : p.root === 'this' ? self : ret;
    for (const k of p.props) {
      if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return undefined;
      v = (v as Record<string, unknown>)[k];
    }
    return v;
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && (typeof v === 'object' || typeof v === 'function');

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function asIdString(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'bigint') return v.toString();
  return undefined;
}

function asAttempt(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
}

export function isErrorLike(e: unknown): e is Error {
  return e instanceof Error || (isObject(e) && typeof e.message === 'string' && typeof e.name === 'string' && 'stack' in e);
}

export function recordError(span: Span, e: unknown): void {
  if (isErrorLike(e)) {
    span.recordException(e);
    span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
    span.setAttribute(ATTR_ERROR_TYPE, e.constructor?.name && e.constructor.name !== 'Object' ? e.constructor.name : e.name);
  } else {
    const msg = typeof e === 'string' ? e : describe(e);
    span.recordException(msg);
    span.setStatus({ code: SpanStatusCode.ERROR, message: msg });
    span.setAttribute(ATTR_ERROR_TYPE, typeof e === 'string' ? 'string' : describe(e));
  }
}

function setPathAttributes(span: Span, spec: HookSpec, self: unknown, args: readonly unknown[], ret: unknown, phase: 'call' | 'return'): void {
  const want = (p: ValuePath | undefined): p is ValuePath => p !== undefined && (p.root === 'return') === (phase === 'return');
  if (want(spec.id)) {
    const id = asIdString(readPath(spec.id, self, args, ret));
    if (id !== undefined) span.setAttribute(ATTR_MESSAGING_MESSAGE_ID, id);
  }
  if (want(spec.attempt)) {
    const a = asAttempt(readPath(spec.attempt, self, args, ret));
    if (a !== undefined) span.setAttribute(ATTR_TASK_ATTEMPT, a);
  }
}

/** Writes the propagation headers of `ctx` into `carrier[key]`; returns false if there was nowhere to write. */
export function injectContext(ctx: Context, carrier: unknown, key: string): boolean {
  if (!isObject(carrier) || Array.isArray(carrier)) return false;
  const headers: Record<string, string> = {};
  propagation.inject(ctx, headers);
  if (Object.keys(headers).length === 0) return true;
  try {
    carrier[key] = headers;
    return true;
  } catch {
    // Frozen or sealed payload: the task still runs, just without context.
    return false;
  }
}

/** The context written by injectContext, or undefined if the carrier holds none (or garbage). */
export function extractContext(carrier: unknown, key: string): Context | undefined {
  try {
    if (!isObject(carrier)) return undefined;
    const headers = carrier[key];
    if (!isObject(headers) || Array.isArray(headers)) return undefined;
    return propagation.extract(ROOT_CONTEXT, headers, stringGetter);
  } catch {
    return undefined;
  }
}

interface Started {
  span: Span;
  ctx: Context;
}

function start(hook: ResolvedHook, rt: HookRuntime, self: unknown, args: readonly unknown[]): Started {
  const spec = hook.spec;
  const active = context.active();
  let queue: string | undefined;
  if (spec.queue) queue = 'literal' in spec.queue ? spec.queue.literal : asIdString(readPath(spec.queue.path, self, args));
  const name = defaultSpanName(spec, queue, hook.moduleBase);

  if (spec.role === 'span') {
    const span = rt.tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes: { [ATTR_CODE_FUNCTION_NAME]: functionName(spec, hook.moduleBase) } }, active);
    return { span, ctx: trace.setSpan(active, span) };
  }

  const attributes: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: spec.system,
    [ATTR_MESSAGING_OPERATION_TYPE]: spec.role === 'submit' ? 'send' : 'process',
    [ATTR_MESSAGING_OPERATION_NAME]: spec.role === 'submit' ? 'publish' : 'process',
    [ATTR_CODE_FUNCTION_NAME]: functionName(spec, hook.moduleBase),
  };
  if (queue !== undefined) attributes[ATTR_MESSAGING_DESTINATION_NAME] = queue;
  const carrier = readPath(spec.carrier!, self, args);
  const noCarrier = (): void =>
    rt.warnOnce(
      `carrier:${spec.text}`,
      `OTEL_AGENT_QUEUE_HOOKS: hook "${spec.text}": ${spec.carrier!.text} is ${describe(carrier)}, not an object, so the trace context ` +
        (spec.role === 'submit' ? 'cannot travel with the task' : 'cannot be read from it') +
        `; the ${spec.role} span is still recorded. Point the hook at an object argument or property.`,
    );

  let span: Span;
  let ctx: Context;
  if (spec.role === 'submit') {
    span = rt.tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes }, active);
    ctx = trace.setSpan(active, span);
    // Before the original runs: it may serialize the payload right away.
    if (!injectContext(ctx, carrier, spec.key)) noCarrier();
  } else {
    if (!isObject(carrier)) noCarrier();
    const extracted = extractContext(carrier, spec.key);
    const sc = extracted && trace.getSpanContext(extracted);
    const links: Link[] = [];
    // A task carries its own trace: whatever happens to be active where the
    // worker picks it up (a polling loop, a timer) is not its parent.
    let parent: Context = ROOT_CONTEXT;
    if (extracted) parent = sc && isSpanContextValid(sc) && !spec.link ? extracted : trace.deleteSpan(extracted);
    if (sc && isSpanContextValid(sc) && spec.link) links.push({ context: sc });
    span = rt.tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes, links }, parent);
    ctx = trace.setSpan(parent, span);
  }
  setPathAttributes(span, spec, self, args, undefined, 'call');
  return { span, ctx };
}

function callbackIndex(spec: HookSpec, args: readonly unknown[]): number {
  const c = spec.callback;
  switch (c.kind) {
    case 'none':
      return -1;
    case 'arg':
      return typeof args[c.index] === 'function' ? c.index : -1;
    default:
      return args.length > 0 && typeof args[args.length - 1] === 'function' ? args.length - 1 : -1;
  }
}

/**
 * Returns the function that replaces `original`. It keeps the original's name,
 * length, prototype and own properties so code that inspects the function (or
 * reads static members off a `module.exports = fn`) sees no difference.
 */
export function wrapFunction(hook: ResolvedHook, original: AnyFn, rt: HookRuntime): AnyFn {
  const spec = hook.spec;
  const explicitCallback = spec.callback.kind === 'arg' || spec.callback.kind === 'last';

  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const construct = new.target !== undefined;
    const callOriginal = (a: unknown[]): unknown => (construct ? Reflect.construct(original, a, new.target as AnyFn) : original.apply(this, a));
    if (!rt.enabled()) return callOriginal(args);
    hook.calls++;

    let started: Started;
    const parentCtx = context.active();
    try {
      started = start(hook, rt, this, args);
    } catch (e) {
      rt.warnOnce(
        `internal:${spec.text}`,
        `OTEL_AGENT_QUEUE_HOOKS: hook "${spec.text}" could not start its span (${(e as Error)?.message}); calls run untraced`,
      );
      return callOriginal(args);
    }
    const { span, ctx } = started;
    const self = this;
    let ended = false;
    const end = (outcome: 'ok' | 'error', value: unknown): void => {
      if (ended) return;
      ended = true;
      try {
        if (outcome === 'error') recordError(span, value);
        else setPathAttributes(span, spec, self, args, value, 'return');
      } finally {
        span.end();
      }
    };

    const cbIndex = callbackIndex(spec, args);
    let callArgs = args;
    let returned = false;
    let waitForCallback = false;
    let cbOutcome: { failed: boolean; err: unknown } | undefined;
    if (cbIndex >= 0) {
      const cb = args[cbIndex] as AnyFn;
      callArgs = args.slice();
      callArgs[cbIndex] = function (this: unknown, ...cbArgs: unknown[]): unknown {
        if (!cbOutcome) {
          const e = cbArgs[0];
          // Guessing (auto): only a real Error counts, so a task handler passed as the
          // last argument and called with the task is not mistaken for a failure.
          cbOutcome = { failed: explicitCallback ? e !== null && e !== undefined : isErrorLike(e), err: e };
          if (returned && waitForCallback) end(cbOutcome.failed ? 'error' : 'ok', cbOutcome.failed ? cbOutcome.err : undefined);
        }
        // The callback continues the caller's work, not the hooked function's.
        return context.with(parentCtx, () => cb.apply(this, cbArgs));
      };
    }

    let result: unknown;
    try {
      result = context.with(ctx, () => callOriginal(callArgs));
    } catch (e) {
      end('error', e);
      throw e;
    } finally {
      returned = true;
    }

    const settleFromCallback = (): boolean => {
      if (cbOutcome) {
        end(cbOutcome.failed ? 'error' : 'ok', cbOutcome.failed ? cbOutcome.err : undefined);
        return true;
      }
      waitForCallback = true;
      return false;
    };

    if (types.isPromise(result)) {
      if (explicitCallback && cbIndex >= 0 && settleFromCallback()) return result;
      // A derived promise, so a rejection nobody handles is still reported as
      // unhandled exactly as before (attaching a handler to the original would hide it).
      return (result as Promise<unknown>).then(
        (v) => {
          end('ok', v);
          return v;
        },
        (e: unknown) => {
          end('error', e);
          throw e;
        },
      );
    }
    // Node-style APIs often return something (stream.write's boolean, a timer
    // from `cb => setImmediate(...)`) and call back later: the callback decides.
    if (cbIndex >= 0) {
      settleFromCallback();
      return result;
    }
    end('ok', result);
    return result;
  };

  copyShape(wrapped, original);
  Object.defineProperty(wrapped, ORIGINAL, { value: original, enumerable: false, configurable: true });
  return wrapped as AnyFn;
}

function copyShape(wrapped: AnyFn, original: AnyFn): void {
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'arguments' || key === 'caller') continue;
    const d = Object.getOwnPropertyDescriptor(original, key);
    if (!d) continue;
    try {
      Object.defineProperty(wrapped, key, d);
    } catch {
      // A non-configurable own property of the wrapper itself (none in practice): keep ours.
    }
  }
}

export function isWrapped(fn: unknown): boolean {
  return typeof fn === 'function' && Object.prototype.hasOwnProperty.call(fn, ORIGINAL);
}
