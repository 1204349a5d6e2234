/**
 * The receiving side of NATS: one CONSUMER span per message a subscription
 * (or a JetStream consumer) hands to the app, parented to the context the
 * publisher put in the message headers, in whatever process it ran.
 *
 * Callback form: the callback runs inside the span, so the work it does nests
 * under it. Async-iterator form (`for await (const m of sub)`): the span
 * covers the loop body, from the moment the message is handed out to the next
 * call for a message (or the loop's end). JavaScript gives an iterator no way
 * to set the context the loop body runs in, so spans the body makes are
 * children of whatever was active around the loop, not of this span; the
 * docs say so.
 *
 * An unsampled message (its context says "not sampled" and the sampler
 * follows the parent) gets no span: the callback runs in the extracted context
 * and nothing else is built, except, with metrics on, one clock read and the
 * messaging.process.duration / messaging.client.consumed.messages records
 * (the same span of time the CONSUMER span would cover).
 */
import {
  context,
  propagation,
  trace,
  ROOT_CONTEXT,
  SpanKind,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { BODY_SIZE, OPERATION_NAME, OPERATION_TYPE, SYSTEM, endSpan, settle, skipsSpan } from '../messaging/common';
import { MessagingMetrics } from '../messaging/metrics';

/** The parts of a nats.js MsgHdrs the propagators read. */
export interface Hdrs {
  keys(): string[];
  get(k: string): string;
  set(k: string, v: string): void;
}

/** What a nats.js Msg / JsMsg looks like to us. */
export interface NatsMsg {
  subject?: unknown;
  data?: { length?: number };
  headers?: Hdrs;
}

const getter: TextMapGetter<Hdrs> = {
  keys: (h) => h.keys(),
  get: (h, k) => {
    const v = h.get(k);
    if (v) return v;
    // Other clients (Go, Java) may send `Traceparent`; nats.js matches header names exactly.
    for (const key of h.keys()) if (key.toLowerCase() === k) return h.get(key) || undefined;
    return undefined;
  },
};

/** The context the publisher sent; ROOT when there is none (never the socket's context, which belongs to whoever connected). */
export function extract(msg: NatsMsg): Context {
  try {
    const h = msg.headers;
    return h && typeof h.keys === 'function' ? propagation.extract(ROOT_CONTEXT, h, getter) : ROOT_CONTEXT;
  } catch {
    return ROOT_CONTEXT;
  }
}

export interface ConsumeSite {
  tracer: () => Tracer;
  parentBased: boolean | undefined;
  /** The span's name, from what the subscription was made for (low cardinality). */
  name: string;
  /** Attributes of every span of this subscription, built once when the subscription is made and only when a span records. */
  attributes: () => Attributes;
  /** Set when metrics are on. */
  metrics?: MessagingMetrics;
  /** The metrics' attributes for a message on `subject` (cached by the site: they do not depend on the message otherwise). */
  metricAttributes: (subject: unknown) => Attributes;
}

/** Starts the CONSUMER span of one message, or returns undefined when it is unsampled (see skipsSpan). */
export function startProcess(site: ConsumeSite, msg: NatsMsg, parent: Context): Span | undefined {
  if (skipsSpan(parent, site.parentBased)) return undefined;
  const span = site.tracer().startSpan(site.name, { kind: SpanKind.CONSUMER }, parent);
  if (span.isRecording()) {
    const a: Attributes = { ...site.attributes(), [SYSTEM]: 'nats', [OPERATION_TYPE]: 'process', [OPERATION_NAME]: 'process' };
    if (typeof msg.subject === 'string') a['messaging.destination.name'] = msg.subject;
    if (typeof msg.data?.length === 'number') a[BODY_SIZE] = msg.data.length;
    span.setAttributes(a);
  }
  return span;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (this: any, ...args: any[]) => unknown;

/** A subscription callback `(err, msg)` (core) or `(msg)` (JetStream consume), run inside each message's span. */
export function wrapCallback(site: ConsumeSite, cb: AnyFn, msgArg: 0 | 1): AnyFn {
  return function (this: unknown, ...args: unknown[]): unknown {
    const msg = args[msgArg] as NatsMsg | undefined;
    if (!msg || typeof msg !== 'object' || (msgArg === 1 && args[0])) return cb.apply(this, args);
    const parent = extract(msg);
    const span = startProcess(site, msg, parent);
    const m = site.metrics;
    if (!span && !m) return context.with(parent, cb, this, ...args);
    const ctx = span ? trace.setSpan(parent, span) : parent;
    const t0 = m ? MessagingMetrics.start() : 0;
    // An async callback: the message is processed when its promise settles.
    return settle(
      () => context.with(ctx, cb, this, ...args),
      (failed, e) => {
        endSpan(span, failed, e);
        m?.processed(t0, site.metricAttributes(msg.subject), failed, e, ctx);
      },
    );
  };
}

interface AsyncIter {
  next(...a: unknown[]): Promise<IteratorResult<unknown>>;
  return?(v?: unknown): Promise<IteratorResult<unknown>>;
  throw?(e?: unknown): Promise<IteratorResult<unknown>>;
  [Symbol.asyncIterator]?(): AsyncIter;
}

/** Makes `for await (const m of target)` record one span per message, from hand-out to the next request. */
export function wrapIterable(site: ConsumeSite, target: object): void {
  const t = target as { [Symbol.asyncIterator]?: () => AsyncIter };
  const orig = t[Symbol.asyncIterator];
  if (typeof orig !== 'function') return;
  Object.defineProperty(target, Symbol.asyncIterator, {
    configurable: true,
    writable: true,
    value: function (this: unknown): AsyncIter {
      const inner = orig.call(this);
      let current: Span | undefined;
      // The message handed out last, while metrics are on: when and in which context.
      let measured: { t0: number; subject: unknown; ctx: Context } | undefined;
      const endCurrent = (failed = false, e?: unknown): void => {
        const s = current;
        const m = measured;
        current = undefined;
        measured = undefined;
        endSpan(s, failed, e);
        if (m) site.metrics?.processed(m.t0, site.metricAttributes(m.subject), failed, e, m.ctx);
      };
      const onResult = (r: IteratorResult<unknown>): IteratorResult<unknown> => {
        if (!r.done && r.value && typeof r.value === 'object') {
          const msg = r.value as NatsMsg;
          const parent = extract(msg);
          current = startProcess(site, msg, parent);
          if (site.metrics) measured = { t0: MessagingMetrics.start(), subject: msg.subject, ctx: current ? trace.setSpan(parent, current) : parent };
        }
        return r;
      };
      const it: AsyncIter = {
        next(...a: unknown[]) {
          endCurrent();
          return inner.next(...a).then(onResult);
        },
        return(v?: unknown) {
          endCurrent();
          return inner.return ? inner.return(v) : Promise.resolve({ done: true, value: v });
        },
        throw(e?: unknown) {
          endCurrent(true, e);
          return inner.throw ? inner.throw(e) : Promise.reject(e);
        },
        [Symbol.asyncIterator]() {
          return it;
        },
      };
      return it;
    },
  });
}
