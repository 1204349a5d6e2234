/**
 * MQTT.js 5: `client.publish()` (and `publishAsync()`, which calls it) is a
 * PRODUCER span `publish <topic>`, ended when the client reports the message
 * sent (QoS 0) or acknowledged (QoS 1 and 2); each received message is a
 * CONSUMER span `process <topic>` around the `'message'` listeners.
 *
 * With MQTT 5 the context travels in the PUBLISH packet's user properties
 * (copied: the caller's options object is not changed). MQTT 3.1.1 packets
 * have no place for it: the spans are still recorded, and a subscriber's span
 * starts a trace of its own.
 *
 * With metrics on, every publish records messaging.client.operation.duration
 * (until sent or acknowledged, as the span) and messaging.client.sent.messages,
 * and every received message messaging.process.duration (its 'message'
 * listeners) and messaging.client.consumed.messages, sampled or not. A message
 * that matches one of the client's wildcard subscriptions counts under that
 * filter (messaging.destination.template) rather than its topic, whose
 * cardinality is the app's (topics.ts).
 *
 * The client class is exported, so its prototype is patched once, whether the
 * app requires or imports mqtt.
 */
import { context, propagation, trace, ROOT_CONTEXT, SpanKind, type Attributes, type Context, type Span, type TextMapGetter } from '@opentelemetry/api';
import { InstrumentationBase, InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { AGENT_VERSION } from '../../version';
import {
  BODY_SIZE,
  DESTINATION,
  OPERATION_NAME,
  OPERATION_TYPE,
  SERVER_ADDRESS,
  SERVER_PORT,
  SYSTEM,
  bodySize,
  endSpan,
  recordError,
  skipsSpan,
  type MessagingConfig,
} from '../messaging/common';
import { MessagingMetrics } from '../messaging/metrics';
import { Subscriptions } from './topics';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (this: any, ...args: any[]) => any;
type UserProps = Record<string, string | string[]>;
interface Client {
  options?: { protocolVersion?: number; host?: unknown; hostname?: unknown; port?: unknown };
}
interface PublishOpts {
  properties?: { userProperties?: UserProps; [k: string]: unknown };
  [k: string]: unknown;
}
interface Packet {
  payload?: unknown;
  properties?: { userProperties?: UserProps };
}

export const SUPPORTED = ['>=5.0.0 <6'];

const getter: TextMapGetter<UserProps> = {
  keys: (c) => Object.keys(c),
  get: (c, k) => {
    const v = c[k];
    return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
  },
};

function server(client: Client): Attributes {
  const o = client.options;
  const a: Attributes = {};
  const host = o?.hostname ?? o?.host;
  if (typeof host === 'string' && host) a[SERVER_ADDRESS] = host;
  if (typeof o?.port === 'number') a[SERVER_PORT] = o.port;
  return a;
}

function extract(packet: Packet | undefined): Context {
  try {
    const up = packet?.properties?.userProperties;
    return up && typeof up === 'object' ? propagation.extract(ROOT_CONTEXT, up, getter) : ROOT_CONTEXT;
  } catch {
    return ROOT_CONTEXT;
  }
}

/** The caller's options with our context added to a copy of their user properties. */
function withContext(opts: PublishOpts | null | undefined, ctx: Context): PublishOpts {
  const userProperties: UserProps = { ...opts?.properties?.userProperties };
  propagation.inject(ctx, userProperties);
  return { ...opts, properties: { ...opts?.properties, userProperties } };
}

export class MqttInstrumentation extends InstrumentationBase<MessagingConfig> {
  private readonly patched = new WeakSet<object>();
  private metrics: MessagingMetrics | undefined;
  private readonly subscriptions = new Subscriptions();

  constructor(config: MessagingConfig = {}) {
    super('@x/otel-agent/mqtt', AGENT_VERSION, config);
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected override _updateMetricInstruments(): void {
    if (this.getConfig().metrics) this.metrics = new MessagingMetrics(this.meter);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition('mqtt', SUPPORTED, (exports: { MqttClient?: { prototype?: Record<string, AnyFn> } }) => {
        const proto = exports?.MqttClient?.prototype;
        if (!proto || typeof proto.publish !== 'function' || typeof proto.emit !== 'function') {
          this._diag.warn('mqtt: MqttClient.prototype.publish/emit not found; this mqtt is not traced');
          return exports;
        }
        if (this.patched.has(proto)) return exports;
        this.patched.add(proto);
        this._wrap(proto, 'publish', (orig: AnyFn) => this.wrapPublish(orig));
        this._wrap(proto, 'emit', (orig: AnyFn) => this.wrapEmit(orig));
        // Only the metrics need to know the topic filters (which subscription a message came through).
        if (this.metrics && typeof proto.subscribe === 'function') this._wrap(proto, 'subscribe', (orig: AnyFn) => this.subscriptions.wrapSubscribe(orig));
        if (this.metrics && typeof proto.unsubscribe === 'function')
          this._wrap(proto, 'unsubscribe', (orig: AnyFn) => this.subscriptions.wrapUnsubscribe(orig));
        return exports;
      }),
    ];
  }

  private wrapPublish(orig: AnyFn): AnyFn {
    const inst = this;
    return function publish(this: Client, topic: unknown, message: unknown, opts: unknown, callback: unknown): unknown {
      if (typeof opts === 'function') {
        callback = opts;
        opts = undefined;
      }
      if (typeof topic !== 'string') return orig.call(this, topic, message, opts, callback);
      const v5 = this?.options?.protocolVersion === 5;
      const parent = context.active();
      const o = opts as PublishOpts | null | undefined;
      const skip = skipsSpan(parent, inst.getConfig().parentBased);
      const m = inst.metrics;
      if (skip && !m) return orig.call(this, topic, message, v5 ? withContext(o, parent) : opts, callback);
      let span: Span | undefined;
      if (!skip) {
        span = inst.tracer.startSpan(`publish ${topic}`, { kind: SpanKind.PRODUCER }, parent);
        if (span.isRecording()) {
          const a: Attributes = { [SYSTEM]: 'mqtt', [OPERATION_TYPE]: 'send', [OPERATION_NAME]: 'publish', [DESTINATION]: topic, ...server(this) };
          const size = bodySize(message);
          if (size !== undefined) a[BODY_SIZE] = size;
          span.setAttributes(a);
        }
      }
      const ctx = span ? trace.setSpan(parent, span) : parent;
      const t0 = m ? MessagingMetrics.start() : 0;
      let ended = false;
      const where = m ? server(this) : {};
      const finish = (failed: boolean, e: unknown): void => {
        if (ended) return;
        ended = true;
        endSpan(span, failed, e);
        m?.sent(t0, { [SYSTEM]: 'mqtt', [OPERATION_TYPE]: 'send', [OPERATION_NAME]: 'publish', [DESTINATION]: topic, ...where }, 1, failed, e, ctx);
      };
      const done = function (this: unknown, err?: unknown, ...rest: unknown[]): unknown {
        finish(!!err, err);
        return typeof callback === 'function' ? (callback as AnyFn).call(this, err, ...rest) : undefined;
      };
      try {
        return context.with(ctx, () => orig.call(this, topic, message, v5 ? withContext(o, ctx) : opts, done));
      } catch (e) {
        finish(true, e);
        throw e;
      }
    };
  }

  private wrapEmit(orig: AnyFn): AnyFn {
    const inst = this;
    return function emit(this: Client, event: unknown, ...args: unknown[]): unknown {
      if (event !== 'message' || typeof args[0] !== 'string') return orig.call(this, event, ...args);
      const topic = args[0];
      const packet = args[2] as Packet | undefined;
      const parent = extract(packet);
      const skip = skipsSpan(parent, inst.getConfig().parentBased);
      const m = inst.metrics;
      if (skip && !m) return context.with(parent, () => orig.call(this, event, ...args));
      let span: Span | undefined;
      if (!skip) {
        span = inst.tracer.startSpan(`process ${topic}`, { kind: SpanKind.CONSUMER }, parent);
        if (span.isRecording()) {
          const a: Attributes = { [SYSTEM]: 'mqtt', [OPERATION_TYPE]: 'process', [OPERATION_NAME]: 'process', [DESTINATION]: topic, ...server(this) };
          const size = bodySize(args[1]);
          if (size !== undefined) a[BODY_SIZE] = size;
          span.setAttributes(a);
        }
      }
      const ctx = span ? trace.setSpan(parent, span) : parent;
      const t0 = m ? MessagingMetrics.start() : 0;
      let failed = false;
      let error: unknown;
      try {
        return context.with(ctx, () => orig.call(this, event, ...args));
      } catch (e) {
        failed = true;
        error = e;
        if (span) recordError(span, e);
        throw e;
      } finally {
        span?.end();
        if (m) {
          const a: Attributes = {
            [SYSTEM]: 'mqtt',
            [OPERATION_TYPE]: 'process',
            [OPERATION_NAME]: 'process',
            ...inst.subscriptions.destination(this, topic),
            ...server(this),
          };
          m.processed(t0, a, failed, error, ctx);
        }
      }
    };
  }
}
