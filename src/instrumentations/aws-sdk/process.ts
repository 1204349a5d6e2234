/**
 * "Processing" of received SQS messages. A plain SDK app has no handler the agent could wrap:
 * it gets a `Messages` array back from ReceiveMessage and does its work on each element. The
 * callback the app hands to that array's own `forEach` or `map` is the one place where the work
 * on one message starts and ends, so that is what is traced: each call runs in a CONSUMER
 * `process <queue>` span whose parent is the message's producer (across processes), ending when
 * the callback returns or, for an async callback, when its promise settles.
 *
 * Only that array instance is touched (two non-enumerable own properties), never
 * Array.prototype. A message whose producer was not sampled gets no span: its callback just
 * runs inside the producer's (unsampled) context, so nothing under it is traced either. With
 * metrics on, every callback, sampled or not, records messaging.process.duration (error.type:
 * the error's class when it throws or rejects).
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes as SpanAttributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { MessagingMetrics } from '../messaging/metrics';
import type { ReceivedMessage } from './carrier';

type Callback = (m: ReceivedMessage, i: number, a: ReceivedMessage[]) => unknown;

export interface ProcessTarget {
  tracer: Tracer;
  queue: string | undefined;
  attributes: SpanAttributes;
  /** Producer context of each message that carried one (keyed by the message: the app may reorder the array). */
  parents: WeakMap<object, Context>;
  /** Set when metrics are on: messaging.process.duration per callback (the messages were counted when received). */
  metrics?: MessagingMetrics;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as { then?: unknown } | null)?.then === 'function';

function fail(span: Span, e: unknown): void {
  span.recordException(e instanceof Error ? e : String(e));
  span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
}

/** Calls `cb` for message `i` inside its process span (or its producer's unsampled context), measured when metrics are on. */
function run(t: ProcessTarget, cb: Callback, thisArg: unknown, m: ReceivedMessage, i: number, arr: ReceivedMessage[]): unknown {
  const parent = m !== null && typeof m === 'object' ? t.parents.get(m) : undefined;
  const remote = parent && trace.getSpanContext(parent);
  const unsampled = !!remote && !(remote.traceFlags & 1);
  const metrics = t.metrics;
  if (unsampled && !metrics) return context.with(parent, cb, thisArg, m, i, arr);
  let span: Span | undefined;
  let ctx: Context;
  if (unsampled) ctx = parent!;
  else {
    const attributes: SpanAttributes = { ...t.attributes };
    if (typeof m?.MessageId === 'string') attributes['messaging.message.id'] = m.MessageId;
    span = t.tracer.startSpan(t.queue ? `process ${t.queue}` : 'process', { kind: SpanKind.CONSUMER, attributes }, parent ?? context.active());
    ctx = trace.setSpan(parent ?? context.active(), span);
  }
  const t0 = metrics ? MessagingMetrics.start() : 0;
  const end = (failed: boolean, e: unknown): void => {
    if (span) {
      if (failed) fail(span, e);
      span.end();
    }
    metrics?.processDuration(t0, t.attributes, failed, e, ctx);
  };
  let out: unknown;
  try {
    out = context.with(ctx, cb, thisArg, m, i, arr);
  } catch (e) {
    end(true, e);
    throw e;
  }
  if (!isThenable(out)) {
    end(false, undefined);
    return out;
  }
  // The app gets a promise settling exactly like its own; a rejection stays unhandled when the
  // app leaves it unhandled (forEach), because the rethrow rejects the promise returned here.
  return out.then(
    (v) => {
      end(false, undefined);
      return v;
    },
    (e: unknown) => {
      end(true, e);
      throw e;
    },
  );
}

/** Gives this one `Messages` array traced `forEach` and `map`. */
export function traceProcessing(messages: ReceivedMessage[], t: ProcessTarget): void {
  const { forEach, map } = messages;
  const define = (name: 'forEach' | 'map', value: unknown): void => {
    Object.defineProperty(messages, name, { value, configurable: true, writable: true, enumerable: false });
  };
  define('forEach', function (this: ReceivedMessage[], cb: Callback, thisArg?: unknown): void {
    if (typeof cb !== 'function' || this !== messages) return forEach.call(this, cb, thisArg);
    forEach.call(this, (m, i, a) => {
      const r = run(t, cb, thisArg, m, i, a);
      // forEach drops the return value; a rejected async callback must still surface as the
      // app's unhandled rejection, which the rethrowing chain above does on its own.
      void r;
    });
  });
  define('map', function (this: ReceivedMessage[], cb: Callback, thisArg?: unknown): unknown[] {
    if (typeof cb !== 'function' || this !== messages) return map.call(this, cb, thisArg);
    return map.call(this, (m, i, a) => run(t, cb, thisArg, m, i, a));
  });
}
