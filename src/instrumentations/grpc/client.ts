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
 * That is also when rpc.client.call.duration is recorded (metrics on), for
 * unsampled calls too: they cost a clock read and that one record more.
 */
import { context, propagation, trace, createContextKey, SpanKind, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import { callAttributes, codeOf, endCall, OK, targetAddress } from './attributes';
import { RpcDuration } from './metrics';

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
  /** Set when metrics are on. */
  duration(): RpcDuration | undefined;
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
    let finish: Finish | undefined;
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
      const duration = hooks.duration();
      const t0 = duration ? RpcDuration.start() : 0;
      const { name, attributes } = callAttributes(arguments[0] as string);
      const s = (span = hooks.tracer().startSpan(name, { kind: SpanKind.CLIENT }, parent));
      const ctx = trace.setSpan(parent, s);
      const md = metadata ? metadata.clone() : new Metadata();
      propagation.inject(ctx, md, setter);
      const recording = s.isRecording();
      const t = recording || duration ? self.getChannel?.().getTarget?.() : undefined;
      const target = typeof t === 'string' ? t : undefined;
      if (recording) {
        s.setAttributes(attributes);
        const server = target !== undefined ? targetAddress(target) : undefined;
        if (server) {
          s.setAttribute(ATTR_SERVER_ADDRESS, server.address);
          if (server.port !== undefined) s.setAttribute(ATTR_SERVER_PORT, server.port);
        }
      }
      if (recording || duration) {
        finish = (code, details) => {
          if (recording) endCall(s, code, details, false, peerOf(call));
          // The exemplar points at the CLIENT span when it is recorded, else at the caller's context.
          duration?.recordClient(t0, target, name, code, recording ? ctx : parent);
        };
      }
      args = Array.prototype.slice.call(arguments, 0, fixed) as unknown[];
      args.push(md, options ?? {});
      if (callback) args.push(answerIn(parent, callback, finish));
    } catch (e) {
      hooks.fail(`grpc Client ${type} call`, e);
      if (span?.isRecording()) span.end();
      return original.apply(this, arguments as unknown as unknown[]);
    }
    try {
      call = original.apply(this, args) as CallLike;
    } catch (e) {
      // Invalid arguments: grpc-js throws before any call exists.
      try {
        finish?.(codeOf(e), e instanceof Error ? e.message : undefined);
      } catch (f) {
        hooks.fail(`grpc Client ${type} call`, f);
      }
      throw e;
    }
    try {
      if (call !== null && typeof call === 'object') {
        // The caller's listeners ('data', 'status', 'metadata') run in the caller's context.
        context.bind(parent, call as unknown as NodeJS.EventEmitter);
        const f = finish;
        if (!shape.callback && f) {
          call.on?.('status', (status: unknown) => {
            try {
              const st = (status ?? {}) as { code?: unknown; details?: unknown };
              f(typeof st.code === 'number' ? st.code : OK, st.details);
            } catch (e) {
              hooks.fail(`grpc Client ${type} call`, e);
            }
          });
        }
      }
    } catch (e) {
      hooks.fail(`grpc Client ${type} call`, e);
    }
    return call;
  };
}

/** Ends the span (when recorded) and records the duration (when metrics are on), with the call's status. */
type Finish = (code: number, details: unknown) => void;

/** The unary / client-streaming callback: finishes the call, then runs the app's callback in the caller's context. */
function answerIn(parent: Context, callback: AnyFn, finish: Finish | undefined): AnyFn {
  return function (this: unknown, err: unknown) {
    if (finish) {
      try {
        const code = err === null || err === undefined ? OK : codeOf(err);
        finish(code, (err as { details?: unknown } | null)?.details);
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
