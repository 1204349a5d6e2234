/**
 * SERVER spans: `Server.prototype.register` of @grpc/grpc-js is what
 * `addService` calls for every method (proto-loader services and generated
 * static stubs alike), so wrapping the handler it is given covers the four
 * call types. The span continues the context the caller put in the call's
 * metadata, the handler and the call's events run in it, and it ends with
 * the status the server sends:
 * - unary and client-streaming: when the handler answers through its callback;
 * - server-streaming and bidi: when the call finishes (`'finish'`), with the
 *   status of an error the handler emitted or destroyed the call with;
 * - any call: when the client cancels it (`'cancelled'`, CANCELLED).
 * That is also when rpc.server.call.duration is recorded (metrics on), for
 * unsampled calls too: they cost a clock read, the listeners that see the
 * end, and that one record more.
 */
import { context, propagation, trace, SpanKind, type Context, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import { parseHost } from '../http/header-parts';
import { callAttributes, CANCELLED, codeOf, endCall, OK } from './attributes';
import type { CallType } from './client';
import { RpcDuration } from './metrics';
import { LIGHT_ROOT } from '../../light-context';

interface MetadataLike {
  getMap(): Record<string, unknown>;
  get(key: string): unknown[];
}

interface ServerCallLike {
  metadata?: MetadataLike;
  on?(event: string, l: (...a: unknown[]) => void): unknown;
  getPeer?(): string;
  getHost?(): string;
  pendingStatus?: { code?: unknown; details?: unknown };
}

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

const getter: TextMapGetter<MetadataLike> = {
  keys: (md) => Object.keys(md.getMap()),
  get(md, key) {
    const v = md.get(key).filter((x): x is string => typeof x === 'string');
    return v.length === 0 ? undefined : v.length === 1 ? v[0] : v;
  },
};

export interface ServerHooks {
  tracer(): Tracer;
  /** Set when metrics are on. */
  duration(): RpcDuration | undefined;
  enabled(): boolean;
  fail(where: string, e: unknown): void;
}

export function wrapHandler(handler: AnyFn, path: string, type: CallType, hooks: ServerHooks): AnyFn {
  const { name, attributes } = callAttributes(path);
  const unaryAnswer = type === 'unary' || type === 'clientStream';
  return function grpcHandler(this: unknown) {
    const call = arguments[0] as ServerCallLike;
    if (!hooks.enabled() || call === null || typeof call !== 'object') return handler.apply(this, arguments as unknown as unknown[]);
    let ctx: Context;
    const args = arguments as unknown as unknown[];
    try {
      const duration = hooks.duration();
      const t0 = duration ? RpcDuration.start() : 0;
      const md = call.metadata;
      const parent = md && typeof md.getMap === 'function' ? propagation.extract(LIGHT_ROOT, md, getter) : LIGHT_ROOT;
      const span = hooks.tracer().startSpan(name, { kind: SpanKind.SERVER }, parent);
      const c = (ctx = trace.setSpan(parent, span));
      // The call's own events ('data', 'end', 'cancelled') run in the request's context.
      context.bind(ctx, call as unknown as NodeJS.EventEmitter);
      const recording = span.isRecording();
      if (recording) {
        span.setAttributes(attributes);
        describe(span, call);
      }
      if (recording || duration) {
        observe(call, unaryAnswer, args, (code, details) => {
          if (recording) endCall(span, code, details, true, peerOf(call));
          // The context holds the SERVER span, sampled or not: the exemplar's trace and span id.
          duration?.recordServer(t0, name, code, c);
        });
      }
    } catch (e) {
      hooks.fail(`grpc Server handler of ${name}`, e);
      return handler.apply(this, args);
    }
    return context.with(ctx, () => handler.apply(this, args));
  };
}

function describe(span: Span, call: ServerCallLike): void {
  const host = typeof call.getHost === 'function' ? call.getHost() : undefined;
  if (typeof host === 'string' && host) {
    const h = parseHost(host);
    span.setAttribute(ATTR_SERVER_ADDRESS, h.address);
    if (h.port !== undefined) span.setAttribute(ATTR_SERVER_PORT, h.port);
  }
}

function peerOf(call: ServerCallLike): string | undefined {
  try {
    return call.getPeer?.();
  } catch {
    return undefined; // closed
  }
}

/** Calls `finish` once, with the status the server sends (see the file comment). */
function observe(call: ServerCallLike, unaryAnswer: boolean, args: unknown[], finish: (code: number, details: unknown) => void): void {
  let done = false;
  const end = (code: number, details: unknown): void => {
    if (done) return;
    done = true;
    finish(code, details);
  };
  call.on?.('cancelled', () => end(CANCELLED, 'Cancelled by client'));
  if (unaryAnswer) {
    const cb = args[1];
    if (typeof cb !== 'function') return;
    args[1] = function (this: unknown, err: unknown) {
      try {
        if (err === null || err === undefined) end(OK, undefined);
        else end(codeOf(err), (err as { details?: unknown; message?: unknown }).details ?? (err as { message?: unknown }).message);
      } catch {
        /* the answer still goes out */
      }
      return (cb as AnyFn).apply(this, arguments as unknown as unknown[]);
    };
    return;
  }
  let failed: unknown;
  call.on?.('error', (err: unknown) => {
    failed ??= err;
  });
  const onEnd = (): void => {
    const st = call.pendingStatus;
    if (st && typeof st.code === 'number') end(st.code, st.details);
    else if (failed !== undefined) end(codeOf(failed), (failed as { details?: unknown } | null)?.details);
    else end(OK, undefined);
  };
  call.on?.('finish', onEnd);
  call.on?.('close', onEnd);
}
