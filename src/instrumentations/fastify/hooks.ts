/**
 * OTEL_AGENT_WEB_SPANS=all on Fastify: an INTERNAL span `hook - <hook> - <function>`
 * for each request hook the app (or a plugin) adds (`onRequest`,
 * `preHandler`, ...), through the root instance's `addHook`, which every
 * encapsulated child instance inherits (Fastify creates them with
 * Object.create). Only installed with `all`; route-level hooks in route
 * options are not wrapped.
 *
 * Fastify rejects an async hook that also takes `done` by looking at the
 * function's kind and length, so the wrapper keeps both: the app's mistake
 * still gets Fastify's own error.
 */
import { context, trace, type Span, type Tracer } from '@opentelemetry/api';
import { failWebSpan, runInSpan, startWebSpan } from '../web/spans';
import type { FastifyLike } from './instrumentation';

const REQUEST_HOOKS = new Set([
  'onRequest',
  'preParsing',
  'preValidation',
  'preHandler',
  'preSerialization',
  'onSend',
  'onResponse',
  'onError',
  'onTimeout',
  'onRequestAbort',
]);
const WRAPPED = Symbol.for('@x/otel-agent/fastify.addHook');

type Hook = (this: unknown, ...a: unknown[]) => unknown;

export function wrapHooks(app: FastifyLike, tracer: Tracer): void {
  const target = app as FastifyLike & { [WRAPPED]?: true };
  if (target[WRAPPED]) return;
  const orig = app.addHook;
  const addHook = function (this: unknown, name: string, fn: Hook, ...rest: unknown[]) {
    const f = typeof fn === 'function' && REQUEST_HOOKS.has(name) ? wrapHook(tracer, name, fn) : fn;
    return (orig as (this: unknown, ...a: unknown[]) => unknown).call(this, name, f, ...rest);
  };
  Object.defineProperty(target, 'addHook', { value: addHook, writable: true, configurable: true, enumerable: false });
  target[WRAPPED] = true;
}

function wrapHook(tracer: Tracer, hook: string, fn: Hook): Hook {
  const name = fn.name ? `hook - ${hook} - ${fn.name}` : `hook - ${hook}`;
  const attrs: Record<string, string> = { 'fastify.type': 'hook', 'fastify.hook.name': hook };
  if (fn.name) attrs['fastify.name'] = fn.name;
  function run(this: unknown, args: unknown[]): unknown {
    const span = startWebSpan(tracer, name, attrs);
    if (span === undefined) return fn.apply(this, args);
    const last = args.length - 1;
    const done = args[last];
    if (typeof done !== 'function') return runInSpan(span, () => fn.apply(this, args));
    // Fastify always passes done: the hook is over when it calls it, or when the promise it returned settles.
    const end = once(span);
    // What runs after the hook (the next hook, the handler) runs in the request's context, not under this ended span.
    const parent = context.active();
    args[last] = function (this: unknown, ...a: unknown[]) {
      end(a[0]);
      return context.with(parent, done as (...x: unknown[]) => unknown, this, ...a);
    };
    let r: unknown;
    try {
      r = context.with(trace.setSpan(context.active(), span), () => fn.apply(this, args));
    } catch (e) {
      end(e);
      throw e;
    }
    const then = r !== null && typeof r === 'object' ? (r as { then?: unknown }).then : undefined;
    if (typeof then === 'function') (then as (a: () => void, b: (e: unknown) => void) => unknown).call(r, () => end(undefined), end);
    return r;
  }
  const wrapped: Hook =
    fn.constructor?.name === 'AsyncFunction'
      ? async function (this: unknown, ...args: unknown[]) {
          return run.call(this, args);
        }
      : function (this: unknown, ...args: unknown[]) {
          return run.call(this, args);
        };
  Object.defineProperty(wrapped, 'length', { value: fn.length });
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  return wrapped;
}

/** Ends the span on the first of done() or the promise settling; an error marks it failed. */
function once(span: Span): (err: unknown) => void {
  let ended = false;
  return (err) => {
    if (ended) return;
    ended = true;
    if (err) failWebSpan(span, err);
    span.end();
  };
}
