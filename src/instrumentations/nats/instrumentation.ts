/**
 * NATS (nats.js): `nats` 2.x, and the 3.x family (`@nats-io/transport-node`
 * with `@nats-io/jetstream`), which share the connection's shape.
 *
 * - `nc.publish(subject)`: PRODUCER `publish <subject>`, its context in the
 *   message headers.
 * - `nc.request(subject)`: CLIENT `request <subject>` around the round trip;
 *   the responder's CONSUMER span is its child.
 * - `nc.subscribe(subject)`, callback or async iterator: CONSUMER
 *   `process <subject>` per message (consume.ts).
 * - JetStream `js.publish(subject)`: PRODUCER `publish <subject>` (not the
 *   request it is made of); `consumer.consume()` / `fetch()`: CONSUMER
 *   `process <stream>` per message.
 *
 * Subjects starting with `$` (JetStream's API, system requests) and inbox
 * subjects (replies) are the client's plumbing and get no span of their own.
 *
 * With metrics on, every publish / request / JetStream publish records
 * messaging.client.operation.duration and messaging.client.sent.messages, and
 * every message handed to a subscription messaging.process.duration and
 * messaging.client.consumed.messages, sampled or not (messaging/metrics.ts).
 *
 * The connection class is not reachable from the `nats` 2.x exports, so the
 * prototype is patched on the first connection `connect()` returns; every
 * later connection shares it.
 */
import { context, createContextKey, propagation, trace, SpanKind, type Attributes, type Context, type Span, type TextMapSetter } from '@opentelemetry/api';
import { InstrumentationBase, InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { AGENT_VERSION } from '../../version';
import {
  BODY_SIZE,
  CONSUMER_GROUP,
  DESTINATION,
  DESTINATION_TEMPLATE,
  OPERATION_NAME,
  OPERATION_TYPE,
  SERVER_ADDRESS,
  SERVER_PORT,
  SUBSCRIPTION,
  SYSTEM,
  bodySize,
  endSpan,
  endWith,
  settle,
  skipsSpan,
  type MessagingConfig,
} from '../messaging/common';
import { MessagingMetrics } from '../messaging/metrics';
import { wrapCallback, wrapIterable, type ConsumeSite, type Hdrs } from './consume';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (this: any, ...args: any[]) => any;
type Proto = Record<string, AnyFn>;
type Headers = () => Hdrs;

interface Conn {
  info?: { headers?: boolean };
  options?: { inboxPrefix?: string };
  getServer?: () => unknown;
}
interface PubOpts {
  headers?: Hdrs;
  reply?: string;
  [k: string]: unknown;
}

/** Set while our PRODUCER/CLIENT span's own inner calls run (js.publish is an nc.request; nc.request is an nc.publish). */
const INNER = createContextKey('@x/otel-agent/nats.inner');
const setter: TextMapSetter<Hdrs> = { set: (h, k, v) => h.set(k, v) };

export const SUPPORTED = { nats: ['>=2.0.0 <3'], transport: ['>=3.0.0 <4'], jetstream: ['>=3.0.0 <4'] };

function isPlumbing(subject: unknown, conn: Conn): boolean {
  if (typeof subject !== 'string' || subject.charCodeAt(0) === 36 /* $ */) return true;
  const inbox = conn.options?.inboxPrefix || '_INBOX';
  return subject.startsWith(inbox);
}

/** The last server each connection reported and its attributes: metrics ask on every message. */
const servers = new WeakMap<object, { s: unknown; a: Attributes }>();

function server(conn: Conn): Attributes {
  try {
    const s = conn.getServer?.();
    const last = servers.get(conn);
    if (last && last.s === s) return last.a;
    const m = typeof s === 'string' ? /^\[?([^\]]*?)\]?:(\d+)$/.exec(s) : null;
    const a: Attributes = m ? { [SERVER_ADDRESS]: m[1]!, [SERVER_PORT]: Number(m[2]) } : {};
    servers.set(conn, { s, a });
    return a;
  } catch {
    return {};
  }
}

export class NatsInstrumentation extends InstrumentationBase<MessagingConfig> {
  private readonly patched = new WeakSet<object>();
  private headers: Headers | undefined;
  private metrics: MessagingMetrics | undefined;

  constructor(config: MessagingConfig = {}) {
    super('@x/otel-agent/nats', AGENT_VERSION, config);
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected override _updateMetricInstruments(): void {
    if (this.getConfig().metrics) this.metrics = new MessagingMetrics(this.meter);
  }

  /** Runs one send (`run`), ending its span and, with metrics on, recording its duration and message. */
  private sending(conn: Conn, op: string, subject: string, s: { span?: Span; ctx: Context }, run: () => unknown): unknown {
    const m = this.metrics;
    if (!m) return s.span ? endWith(s.span, run) : run();
    const t0 = MessagingMetrics.start();
    return settle(run, (failed, e) => {
      endSpan(s.span, failed, e);
      m.sent(t0, { [SYSTEM]: 'nats', [OPERATION_TYPE]: 'send', [OPERATION_NAME]: op, [DESTINATION]: subject, ...server(conn) }, 1, failed, e, s.ctx);
    });
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    const connectModule = (name: string, versions: string[]): InstrumentationNodeModuleDefinition =>
      new InstrumentationNodeModuleDefinition(name, versions, (exports: Proto) => {
        if (typeof exports.headers === 'function') this.headers ??= exports.headers as unknown as Headers;
        if (typeof exports.connect === 'function') this._wrap(exports, 'connect', (orig: AnyFn) => this.wrapConnect(orig));
        else this._diag.warn(`${name}: no connect() export; this ${name} is not traced`);
        return exports;
      });
    return [
      connectModule('nats', SUPPORTED.nats),
      connectModule('@nats-io/transport-node', SUPPORTED.transport),
      new InstrumentationNodeModuleDefinition('@nats-io/jetstream', SUPPORTED.jetstream, (exports: Proto) => {
        if (typeof exports.jetstream === 'function') this._wrap(exports, 'jetstream', (orig: AnyFn) => this.patchingResult(orig, (js) => this.patchJs(js)));
        return exports;
      }),
    ];
  }

  /** Calls orig and patches the prototype of what it returns (or resolves to), once per prototype. */
  private patchingResult(orig: AnyFn, patch: (v: object) => void): AnyFn {
    return function (this: unknown, ...args: unknown[]): unknown {
      const r: unknown = orig.apply(this, args);
      const apply = (v: unknown): void => {
        try {
          if (v && typeof v === 'object') patch(v);
        } catch {
          /* an unexpected shape: that object is not traced */
        }
      };
      if (r instanceof Promise) r.then(apply, () => undefined);
      else apply(r);
      return r;
    };
  }

  private wrapConnect(orig: AnyFn): AnyFn {
    return this.patchingResult(orig, (nc) => this.patchConnection(nc));
  }

  private once(obj: object): Proto | undefined {
    const proto = Object.getPrototypeOf(obj) as Proto | null;
    if (!proto || this.patched.has(proto)) return undefined;
    this.patched.add(proto);
    return proto;
  }

  private patchConnection(nc: object): void {
    const proto = this.once(nc);
    if (!proto) return;
    if (typeof proto.publish !== 'function' || typeof proto.subscribe !== 'function' || typeof proto.request !== 'function') {
      this._diag.warn('nats: the connection has no publish/subscribe/request; this nats is not traced');
      return;
    }
    this._wrap(proto, 'publish', (orig: AnyFn) => this.wrapPublish(orig));
    this._wrap(proto, 'request', (orig: AnyFn) => this.wrapRequest(orig));
    this._wrap(proto, 'subscribe', (orig: AnyFn) => this.wrapSubscribe(orig));
    // nats 2.x: nc.jetstream(); 3.x has the jetstream() export instead.
    if (typeof proto.jetstream === 'function') this._wrap(proto, 'jetstream', (orig: AnyFn) => this.patchingResult(orig, (js) => this.patchJs(js)));
  }

  private patchJs(js: object): void {
    const consumers = (js as { consumers?: object }).consumers;
    const proto = this.once(js);
    if (proto && typeof proto.publish === 'function') this._wrap(proto, 'publish', (orig: AnyFn) => this.wrapJsPublish(orig));
    const cproto = consumers && typeof consumers === 'object' ? this.once(consumers) : undefined;
    if (cproto && typeof cproto.get === 'function') this._wrap(cproto, 'get', (orig: AnyFn) => this.patchingResult(orig, (c) => this.patchConsumer(c)));
  }

  private patchConsumer(consumer: object): void {
    const proto = this.once(consumer);
    if (!proto) return;
    if (typeof proto.consume === 'function') this._wrap(proto, 'consume', (orig: AnyFn) => this.wrapConsume(orig, true));
    if (typeof proto.fetch === 'function') this._wrap(proto, 'fetch', (orig: AnyFn) => this.wrapConsume(orig, false));
  }

  /** Starts a PRODUCER/CLIENT span and puts its context in the headers; undefined span: unsampled, context injected as is. */
  private send(
    conn: Conn,
    kind: SpanKind,
    op: string,
    subject: string,
    data: unknown,
    opts: PubOpts | undefined,
  ): { span?: Span; ctx: Context; opts: PubOpts | undefined } {
    const parent = context.active();
    let span: Span | undefined;
    let ctx = parent;
    if (!skipsSpan(parent, this.getConfig().parentBased)) {
      span = this.tracer.startSpan(`${op} ${subject}`, { kind }, parent);
      if (span.isRecording()) {
        const a: Attributes = { [SYSTEM]: 'nats', [OPERATION_TYPE]: 'send', [OPERATION_NAME]: op, [DESTINATION]: subject, ...server(conn) };
        const size = bodySize(data);
        if (size !== undefined) a[BODY_SIZE] = size;
        span.setAttributes(a);
      }
      ctx = trace.setSpan(parent, span);
    }
    // A server without header support rejects a message that has headers: then the span is all there is.
    if (conn.info && conn.info.headers === false) return { span, ctx, opts };
    const h = opts?.headers ?? this.headers?.();
    if (!h) return { span, ctx, opts };
    propagation.inject(ctx, h, setter);
    return { span, ctx, opts: opts?.headers ? opts : { ...opts, headers: h } };
  }

  private wrapPublish(orig: AnyFn): AnyFn {
    const inst = this;
    return function publish(this: Conn, subject: unknown, data: unknown, opts: PubOpts | undefined, ...rest: unknown[]): unknown {
      const active = context.active();
      if (active.getValue(INNER) || isPlumbing(subject, this)) return orig.call(this, subject, data, opts, ...rest);
      const s = inst.send(this, SpanKind.PRODUCER, 'publish', subject as string, data, opts);
      return inst.sending(this, 'publish', subject as string, s, () => orig.call(this, subject, data, s.opts, ...rest));
    };
  }

  private wrapRequest(orig: AnyFn): AnyFn {
    const inst = this;
    return function request(this: Conn, subject: unknown, data: unknown, opts: PubOpts | undefined, ...rest: unknown[]): unknown {
      const active = context.active();
      if (active.getValue(INNER) || isPlumbing(subject, this)) return orig.call(this, subject, data, opts, ...rest);
      const s = inst.send(this, SpanKind.CLIENT, 'request', subject as string, data, opts);
      const inner = s.ctx.setValue(INNER, true);
      return inst.sending(this, 'request', subject as string, s, () => context.with(inner, () => orig.call(this, subject, data, s.opts, ...rest)));
    };
  }

  private wrapJsPublish(orig: AnyFn): AnyFn {
    const inst = this;
    return function publish(this: { nc?: Conn }, subject: unknown, data: unknown, opts: PubOpts | undefined, ...rest: unknown[]): unknown {
      const conn: Conn = this?.nc ?? {};
      if (context.active().getValue(INNER) || typeof subject !== 'string') return orig.call(this, subject, data, opts, ...rest);
      const s = inst.send(conn, SpanKind.PRODUCER, 'publish', subject, data, opts);
      const inner = s.ctx.setValue(INNER, true);
      return inst.sending(conn, 'publish', subject, s, () => context.with(inner, () => orig.call(this, subject, data, s.opts, ...rest)));
    };
  }

  /**
   * `fixed`: the metrics' attributes of a subscription whose messages all count
   * under one destination (or template); otherwise each message's subject is
   * its destination (JetStream consumers, whose stream may hold many subjects).
   */
  private site(name: string, attributes: () => Attributes, metricBase: () => Attributes, fixed: boolean): ConsumeSite {
    const metrics = this.metrics;
    const base: Attributes = metrics ? { [SYSTEM]: 'nats', [OPERATION_TYPE]: 'process', [OPERATION_NAME]: 'process', ...metricBase() } : {};
    const bySubject = new Map<string, Attributes>();
    const metricAttributes = (subject: unknown): Attributes => {
      if (fixed || typeof subject !== 'string') return base;
      let a = bySubject.get(subject);
      if (!a) {
        a = { ...base, [DESTINATION]: subject };
        // A consumer over a very wide stream: stop caching rather than grow without bound.
        if (bySubject.size < 256) bySubject.set(subject, a);
      }
      return a;
    };
    return { tracer: () => this.tracer, parentBased: this.getConfig().parentBased, name, attributes, metrics, metricAttributes };
  }

  private wrapSubscribe(orig: AnyFn): AnyFn {
    const inst = this;
    return function subscribe(this: Conn, subject: unknown, opts: { callback?: AnyFn; queue?: string } | undefined, ...rest: unknown[]): unknown {
      if (isPlumbing(subject, this)) return orig.call(this, subject, opts, ...rest);
      const subj = subject as string;
      const wildcard = subj.includes('*') || subj.includes('>');
      const group = typeof opts?.queue === 'string' && opts.queue ? opts.queue : undefined;
      const site = inst.site(
        `process ${subj}`,
        () => {
          const a: Attributes = { ...server(this) };
          if (wildcard) a[DESTINATION_TEMPLATE] = subj;
          if (group) a[CONSUMER_GROUP] = group;
          return a;
        },
        // A wildcard subscription's subjects are not of low cardinality: its metrics carry the template only.
        () => ({ ...(wildcard ? { [DESTINATION_TEMPLATE]: subj } : { [DESTINATION]: subj }), ...(group ? { [CONSUMER_GROUP]: group } : {}), ...server(this) }),
        true,
      );
      if (typeof opts?.callback === 'function') return orig.call(this, subject, { ...opts, callback: wrapCallback(site, opts.callback, 1) }, ...rest);
      const sub: unknown = orig.call(this, subject, opts, ...rest);
      if (sub && typeof sub === 'object') wrapIterable(site, sub);
      return sub;
    };
  }

  private wrapConsume(orig: AnyFn, consume: boolean): AnyFn {
    const inst = this;
    return function (this: { stream?: unknown; name?: unknown }, opts: { callback?: AnyFn } | undefined, ...rest: unknown[]): unknown {
      const stream = typeof this?.stream === 'string' ? this.stream : '';
      const name = typeof this?.name === 'string' ? this.name : undefined;
      const sub = (): Attributes => (name ? { [SUBSCRIPTION]: name } : {});
      const site = inst.site(`process ${stream}`, sub, sub, false);
      const cb = consume && typeof opts?.callback === 'function' ? opts.callback : undefined;
      const r: unknown = orig.call(this, cb ? { ...opts, callback: wrapCallback(site, cb, 0) } : opts, ...rest);
      if (!cb && r instanceof Promise) {
        r.then(
          (messages: unknown) => {
            if (messages && typeof messages === 'object') wrapIterable(site, messages);
          },
          () => undefined,
        );
      }
      return r;
    };
  }
}
