/**
 * What the NATS and MQTT instrumentations share: the messaging attribute
 * names, the "is this message's trace unsampled?" shortcut that keeps span
 * work off the path of unsampled messages, and error recording.
 *
 * Messaging names are still incubating in @opentelemetry/semantic-conventions,
 * whose guidance is to copy incubating names rather than import them.
 */
import { SpanStatusCode, TraceFlags, isSpanContextValid, trace, type Context, type Span } from '@opentelemetry/api';
import type { InstrumentationConfig } from '@opentelemetry/instrumentation';

export const SYSTEM = 'messaging.system';
export const OPERATION_TYPE = 'messaging.operation.type';
export const OPERATION_NAME = 'messaging.operation.name';
export const DESTINATION = 'messaging.destination.name';
export const DESTINATION_TEMPLATE = 'messaging.destination.template';
export const SUBSCRIPTION = 'messaging.destination.subscription.name';
export const CONSUMER_GROUP = 'messaging.consumer.group.name';
export const BODY_SIZE = 'messaging.message.body.size';
export const MESSAGE_ID = 'messaging.message.id';
export const SERVER_ADDRESS = 'server.address';
export const SERVER_PORT = 'server.port';
export const ERROR_TYPE = 'error.type';

export interface MessagingConfig extends InstrumentationConfig {
  /**
   * The agent's sampler follows the parent's decision (the parentbased_*
   * samplers, the default). Then a message whose context says "not sampled"
   * needs no span at all: the handler runs in that context and nothing else
   * is built.
   */
  parentBased?: boolean;
  /** Record the messaging metrics (messaging/metrics.ts): a metrics exporter is set. */
  metrics?: boolean;
}

/** True when `ctx` carries a valid parent that was not sampled and the sampler will follow it: no span needed. */
export function skipsSpan(ctx: Context, parentBased: boolean | undefined): boolean {
  if (!parentBased) return false;
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && isSpanContextValid(sc) && (sc.traceFlags & TraceFlags.SAMPLED) === 0;
}

/** error.type of a thrown value: the error's class name (low cardinality, unlike its message). */
export function errorType(e: unknown): string {
  return e instanceof Error ? (e.constructor?.name ?? e.name) : typeof e;
}

export function recordError(span: Span, e: unknown): void {
  const err = e instanceof Error ? e : undefined;
  span.recordException(err ?? String(e));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err ? err.message : String(e) });
  span.setAttribute(ERROR_TYPE, errorType(e));
}

/** Bytes of a payload as the client sends it (strings as UTF-8), without copying it; undefined when unknown. */
export function bodySize(data: unknown): number | undefined {
  if (data === undefined || data === null) return 0;
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (data instanceof ArrayBuffer) return data.byteLength;
  return undefined;
}

/**
 * Runs fn and calls `done` when it has finished: when it returns or throws,
 * or, when it returns a promise, when that settles. The caller gets fn's own
 * result or error. For a promise that is a chained one settling the same way:
 * observing `r` with a rejection handler would mark its rejection handled, so
 * a subscription callback's rejection that nobody awaits (NATS and MQTT ignore
 * what callbacks return) would no longer reach the app's `unhandledRejection`
 * (or end the process, as it does without the agent). The chained promise is
 * unhandled exactly when the caller ignores it.
 */
export function settle<T>(fn: () => T, done: (failed: boolean, error: unknown) => void): T {
  let r: T;
  try {
    r = fn();
  } catch (e) {
    done(true, e);
    throw e;
  }
  if (r instanceof Promise) {
    return r.then(
      (v: unknown) => {
        done(false, undefined);
        return v;
      },
      (e: unknown) => {
        done(true, e);
        throw e;
      },
    ) as T;
  }
  done(false, undefined);
  return r;
}

/** Ends `span` (with the error, if any) when `failed`/`error` say how its operation ended. */
export function endSpan(span: Span | undefined, failed: boolean, error: unknown): void {
  if (!span) return;
  if (failed) recordError(span, error);
  span.end();
}

/** Runs fn; a returned promise ends the span when it settles (the caller gets the same value or error). */
export function endWith<T>(span: Span, fn: () => T): T {
  return settle(fn, (failed, e) => endSpan(span, failed, e));
}
