/**
 * graphql 17 traces itself through diagnostics channels (`graphql:execute`,
 * `graphql:parse`, `graphql:validate`, `graphql:resolve`), published by its
 * CommonJS and ES module builds alike, so nothing of it is patched.
 *
 * The operation's span must be the active context while its resolvers run
 * (their database calls belong under it): the channel's start event runs the
 * operation inside `runStores`, so binding the context manager's
 * AsyncLocalStorage to it makes the span active for exactly that call. With a
 * context manager we do not know, spans are still made, without that.
 */
import type * as dcT from 'node:diagnostics_channel';
import { context, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { contextStore } from '../http/context-store';
import { endOperation, endResolver, parseFailed, startOperation, startResolver, validationFailed } from './spans';

export type Unsubscribe = () => void;

interface Msg {
  error?: unknown;
  result?: unknown;
  [SPAN]?: Span;
  [PARENT]?: Context;
}
interface ExecuteMsg extends Msg {
  document?: unknown;
  operationName?: string;
}
interface ResolveMsg extends Msg {
  fieldName: string;
  parentType: string;
  fieldType: string;
  isDefaultResolver: boolean;
  fieldPath: string;
}

const SPAN = Symbol('@x/otel-agent/graphql span');
const PARENT = Symbol('@x/otel-agent/graphql parent');

type Store = Parameters<dcT.Channel['bindStore']>[0];

function finish(m: Msg): void {
  const span = m[SPAN];
  if (!span) return;
  m[SPAN] = undefined;
  endOperation(span, m.result, m.error);
}

/** Subscribes to graphql 17's channels; returns the undo. Node without tracingChannel: nothing to do. */
export function subscribeChannels(tracer: () => Tracer, resolverSpans: boolean): Unsubscribe {
  const dc = process.getBuiltinModule?.('node:diagnostics_channel') as typeof dcT | undefined;
  if (!dc || typeof dc.tracingChannel !== 'function') return () => undefined;
  const undo: (() => void)[] = [];
  const store = contextStore() as unknown as Store | undefined;

  const exec = dc.tracingChannel<unknown, ExecuteMsg>('graphql:execute');
  const begin = (m: ExecuteMsg): Context => {
    const parent = m[PARENT] ?? context.active();
    if (!m[SPAN]) {
      const span = startOperation(tracer(), parent, m.document, m.operationName);
      // Unsampled: the operation runs in its caller's context, and nothing waits to end the span.
      if (!span.isRecording()) return parent;
      m[SPAN] = span;
    }
    return trace.setSpan(parent, m[SPAN]);
  };
  if (store) {
    exec.start.bindStore(store, (m) => begin(m as ExecuteMsg));
    undo.push(() => exec.start.unbindStore(store));
  }
  const execHandlers = {
    start: (m: ExecuteMsg) => {
      if (!store) begin(m);
    },
    // Sync: `end` carries the result or error. Async: `end` comes first, bare; `asyncEnd` has it.
    end: (m: ExecuteMsg) => {
      if ('result' in m || m.error !== undefined) finish(m);
    },
    asyncEnd: finish,
    asyncStart: () => undefined,
    error: () => undefined,
  };
  exec.subscribe(execHandlers as unknown as dcT.TracingChannelSubscribers<ExecuteMsg>);
  undo.push(() => exec.unsubscribe(execHandlers as unknown as dcT.TracingChannelSubscribers<ExecuteMsg>));

  const parse = dc.tracingChannel<unknown, Msg & { source?: unknown }>('graphql:parse');
  const parseHandlers = {
    start: () => undefined,
    end: () => undefined,
    asyncStart: () => undefined,
    asyncEnd: () => undefined,
    error: (m: Msg) => parseFailed(tracer(), context.active(), m.error),
  };
  parse.subscribe(parseHandlers as unknown as dcT.TracingChannelSubscribers<Msg>);
  undo.push(() => parse.unsubscribe(parseHandlers as unknown as dcT.TracingChannelSubscribers<Msg>));

  const validate = dc.tracingChannel<unknown, Msg & { document?: unknown }>('graphql:validate');
  const validateHandlers = {
    start: () => undefined,
    end: (m: Msg & { document?: unknown }) => validationFailed(tracer(), context.active(), m.document, m.result),
    asyncStart: () => undefined,
    asyncEnd: () => undefined,
    error: () => undefined,
  };
  validate.subscribe(validateHandlers as unknown as dcT.TracingChannelSubscribers<Msg>);
  undo.push(() => validate.unsubscribe(validateHandlers as unknown as dcT.TracingChannelSubscribers<Msg>));

  if (resolverSpans) {
    // graphql checks for subscribers once per selection set: with none, resolvers run untraced at no cost.
    const resolve = dc.tracingChannel<unknown, ResolveMsg>('graphql:resolve');
    const traced = (m: ResolveMsg): boolean => !m.isDefaultResolver && trace.getSpan(context.active())?.isRecording() === true;
    const startR = (m: ResolveMsg): Context => {
      const parent = context.active();
      if (!traced(m)) return parent;
      m[SPAN] = startResolver(tracer(), parent, m.parentType, m.fieldName, () => m.fieldPath, m.fieldType);
      return trace.setSpan(parent, m[SPAN]);
    };
    if (store) {
      resolve.start.bindStore(store, (m) => startR(m as ResolveMsg));
      undo.push(() => resolve.start.unbindStore(store));
    }
    const done = (m: ResolveMsg) => {
      const span = m[SPAN];
      if (!span) return;
      m[SPAN] = undefined;
      endResolver(span, m.error);
    };
    const resolveHandlers = {
      start: (m: ResolveMsg) => {
        if (!store) startR(m);
      },
      end: (m: ResolveMsg) => {
        if ('result' in m || m.error !== undefined) done(m);
      },
      asyncEnd: done,
      asyncStart: () => undefined,
      error: () => undefined,
    };
    resolve.subscribe(resolveHandlers as unknown as dcT.TracingChannelSubscribers<ResolveMsg>);
    undo.push(() => resolve.unsubscribe(resolveHandlers as unknown as dcT.TracingChannelSubscribers<ResolveMsg>));
  }
  return () => {
    for (const u of undo) u();
  };
}
