/**
 * CLIENT spans: one patch per `Client.prototype.make*Request` of @grpc/grpc-js.
 * Clients made by `loadPackageDefinition` (proto-loader) and by generated
 * static stubs (`makeGenericClientConstructor`) both call these four, so one
 * patch covers every call shape: unary, client-streaming, server-streaming, bidi.
 *
 * The caller's arguments are normalised to grpc-js' full form (metadata,
 * options, callback), the context is injected into a copy of the caller's
 * metadata (the caller may reuse its object), and the span ends when the
 * call's status is known: before a unary callback runs (so its duration is the
 * call's, not the app's callback), else on the call's `'status'` event.
 */
import { context, propagation, trace, createContextKey, SpanKind, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import { callAttributes, codeOf, endCall, OK, targetAddress } from './attributes';

/** Same key as @opentelemetry/core's suppressTracing() (createContextKey is Symbol.for). */
const SUPPRESS = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

export type CallType = 'unary' | 'clientStream' | 'serverStream' | 'bidi';

interface MetadataLike {
  set(key: string, value: string): void;
  clone(): MetadataLike;
}
type MetadataCtor = new () => MetadataLike;

interface ClientLike {
  getChannel?(): { getTarget?(): string };
}
interface CallLike {
  on?(event: string, l: (...a: unknown[]) => void): unknown;
  getPeer?(): string;
}

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

const setter = {
  set(md: MetadataLike, key: string, value: string) {
    md.set(key, value);
  },
};

/** Whether the call takes a request message (unary, server-streaming) and answers through a callback (unary, client-streaming). */
const SHAPE: Record<CallType, { argument: boolean; callback: boolean }> = {
  unary: { argument: true, callback: true },
  clientStream: { argument: false, callback: true },
  serverStream: { argument: true, callback: false },
  bidi: { argument: false, callback: false },
};

export interface ClientHooks {
  tracer(): Tracer;
  enabled(): boolean;
  fail(where: string, e: unknown): void;
}

export function wrapMakeRequest(original: AnyFn, type: CallType, Metadata: MetadataCtor, hooks: ClientHooks): AnyFn {
  const shape = SHAPE[type];
  return function makeRequest(this: unknown) {
    const self = this as ClientLike;
    const parent = context.active();
    if (!hooks.enabled() || parent.getValue(SUPPRESS) === true || typeof arguments[0] !== 'string')
      return original.apply(this, arguments as unknown as unknown[]);
    const fixed = shape.argument ? 4 : 3;
    let span: Span | undefined;
    let args: unknown[] | undefined;
    let call: CallLike | undefined;
    try {
      // metadata?, options?, callback? in any of the shapes grpc-js accepts.
      let metadata: MetadataLike | undefined;
      let options: object | undefined;
      let callback: AnyFn | undefined;
      for (let i = fixed; i < arguments.length; i++) {
        const a = arguments[i] as unknown;
        if (a instanceof Metadata && metadata === undefined && options === undefined && callback === undefined) metadata = a;
        else if (typeof a === 'function' && callback === undefined) callback = a as AnyFn;
        else if (a !== null && typeof a === 'object' && options === undefined && callback === undefined) options = a;
        else if (a !== undefined) return original.apply(this, arguments as unknown as unknown[]); // a shape we do not know: untouched
      }
      if (shape.callback && callback === undefined) return original.apply(this, arguments as unknown as unknown[]); // grpc-js throws its own error
      const { name, attributes } = callAttributes(arguments[0] as string);
      span = hooks.tracer().startSpan(name, { kind: SpanKind.CLIENT }, parent);
      const md = metadata ? metadata.clone() : new Metadata();
      propagation.inject(trace.setSpan(parent, span), md, setter);
      if (span.isRecording()) {
        span.setAttributes(attributes);
        const target = self.getChannel?.().getTarget?.();
        const server = typeof target === 'string' ? targetAddress(target) : undefined;
        if (server) {
          span.setAttribute(ATTR_SERVER_ADDRESS, server.address);
          if (server.port !== undefined) span.setAttribute(ATTR_SERVER_PORT, server.port);
        }
      }
      args = Array.prototype.slice.call(arguments, 0, fixed) as unknown[];
      args.push(md, options ?? {});
      if (callback) args.push(answerIn(parent, callback, span, () => call));
    } catch (e) {
      hooks.fail(`grpc Client ${type} call`, e);
      if (span?.isRecording()) span.end();
      return original.apply(this, arguments as unknown as unknown[]);
    }
    try {
      call = original.apply(this, args) as CallLike;
    } catch (e) {
      // Invalid arguments: grpc-js throws before any call exists.
      if (span.isRecording()) endCall(span, codeOf(e), e instanceof Error ? e.message : undefined, false, undefined);
      throw e;
    }
    try {
      if (call !== null && typeof call === 'object') {
        // The caller's listeners ('data', 'status', 'metadata') run in the caller's context.
        context.bind(parent, call as unknown as NodeJS.EventEmitter);
        const s = span;
        if (!shape.callback && s.isRecording()) {
          call.on?.('status', (status: unknown) => {
            const st = (status ?? {}) as { code?: unknown; details?: unknown };
            endCall(s, typeof st.code === 'number' ? st.code : OK, st.details, false, peerOf(call));
          });
        }
      }
    } catch (e) {
      hooks.fail(`grpc Client ${type} call`, e);
    }
    return call;
  };
}

/** The unary / client-streaming callback: ends the span, then runs the app's callback in the caller's context. */
function answerIn(parent: Context, callback: AnyFn, span: Span, call: () => CallLike | undefined): AnyFn {
  return function (this: unknown, err: unknown) {
    if (span.isRecording()) {
      try {
        const code = err === null || err === undefined ? OK : codeOf(err);
        endCall(span, code, (err as { details?: unknown } | null)?.details, false, peerOf(call()));
      } catch {
        /* the app's callback still runs */
      }
    }
    return context.with(parent, () => callback.apply(this, arguments as unknown as unknown[]));
  };
}

function peerOf(call: CallLike | undefined): string | undefined {
  try {
    const p = call?.getPeer?.();
    return typeof p === 'string' && p !== 'unknown' ? p : undefined;
  } catch {
    return undefined;
  }
}
