/**
 * The messaging metrics of the agent's own messaging instrumentations (NATS,
 * MQTT, BullMQ) and of the amqplib hooks, recorded for every operation, sampled or not, when a metrics
 * exporter is set; this file is the only place they talk to the metrics API.
 *
 * - `messaging.client.operation.duration` (s): a send (publish, request, add)
 *   from the call until the client reports it done.
 * - `messaging.process.duration` (s): the app's handler for one message.
 * - `messaging.client.sent.messages` / `messaging.client.consumed.messages`
 *   ({message}): messages the app attempted to send / that were handed to it.
 *
 * Names, units and attributes are the semantic conventions' (messaging
 * metrics, development status); the histogram buckets are the ones their
 * messaging page recommends, the same as upstream instrumentation-kafkajs.
 * The callers build attributes from what is known when the subscription or
 * destination is set up, never from a message's payload; the destination is
 * `messaging.destination.template` instead of a name when the name is not of
 * low cardinality (a wildcard subscription).
 */
import { ValueType, type Attributes, type Context, type Counter, type Histogram, type Meter, type MetricOptions } from '@opentelemetry/api';
import { ERROR_TYPE, OPERATION_TYPE, errorType } from './common';
import { durationHistogram } from '../duration-histogram';

/** `attributes`, plus error.type when the operation failed: `type` when given, else the error's class. */
function outcome(attributes: Attributes, failed: boolean, error: unknown, type?: string): Attributes {
  return failed ? { ...attributes, [ERROR_TYPE]: type ?? errorType(error) } : attributes;
}

/** The counters' attributes: the conventions give them no messaging.operation.type. */
function counted(attributes: Attributes): Attributes {
  if (!(OPERATION_TYPE in attributes)) return attributes;
  const a = { ...attributes };
  delete a[OPERATION_TYPE];
  return a;
}

const OPERATION_DURATION = 'Duration of messaging operation initiated by a producer or consumer client.';
const PROCESS_DURATION = 'Duration of processing operation.';
const SENT = 'Number of messages producer attempted to send to the broker.';
const CONSUMED = 'Number of messages that were delivered to the application.';

export class MessagingMetrics {
  private readonly operation: Histogram;
  private readonly process: Histogram;
  private readonly sentMessages: Counter;
  private readonly consumedMessages: Counter;

  constructor(meter: Meter) {
    this.operation = durationHistogram(meter, 'messaging.client.operation.duration', OPERATION_DURATION);
    this.process = durationHistogram(meter, 'messaging.process.duration', PROCESS_DURATION);
    this.sentMessages = meter.createCounter('messaging.client.sent.messages', { description: SENT, unit: '{message}', valueType: ValueType.INT });
    this.consumedMessages = meter.createCounter('messaging.client.consumed.messages', { description: CONSUMED, unit: '{message}', valueType: ValueType.INT });
  }

  /** The clock reading to hand back to sent() / processed(). */
  static start(): number {
    return performance.now();
  }

  /**
   * A send that started at `t0` ended now, carrying `messages` messages:
   * messaging.client.operation.duration and messaging.client.sent.messages
   * (a failed attempt counts too, with its error.type). `ctx`: the caller's,
   * whose span an exemplar points at. `type`: the error.type when the failure
   * is not a thrown error (a broker's nack).
   */
  sent(t0: number, attributes: Attributes, messages: number, failed: boolean, error: unknown, ctx: Context, type?: string): void {
    const a = outcome(attributes, failed, error, type);
    this.operation.record((performance.now() - t0) / 1000, a, ctx);
    if (messages > 0) this.sentMessages.add(messages, counted(a), ctx);
  }

  /** Messages sent by an operation whose end the caller cannot see: messaging.client.sent.messages only. */
  count(attributes: Attributes, messages: number, failed: boolean, error: unknown, ctx: Context): void {
    this.sentMessages.add(messages, counted(outcome(attributes, failed, error)), ctx);
  }

  /** The handler of one message, started at `t0`, ended now: messaging.process.duration and messaging.client.consumed.messages. */
  processed(t0: number, attributes: Attributes, failed: boolean, error: unknown, ctx: Context, type?: string): void {
    this.processDuration(t0, attributes, failed, error, ctx, type);
    // Counted once per delivery, whatever the handler did with it.
    this.consumedMessages.add(1, counted(attributes), ctx);
  }

  /** messaging.process.duration alone: where the messages were already counted when received (consumed()). */
  processDuration(t0: number, attributes: Attributes, failed: boolean, error: unknown, ctx: Context, type?: string): void {
    this.process.record((performance.now() - t0) / 1000, outcome(attributes, failed, error, type), ctx);
  }

  /** `messages` handed to the app by one receive (pull-based clients: counted here, not when processed). */
  consumed(messages: number, attributes: Attributes, ctx: Context): void {
    if (messages > 0) this.consumedMessages.add(messages, counted(attributes), ctx);
  }
}

/** What the conventions say of each messaging instrument an upstream instrumentation may create without it. */
const CONVENTIONAL: Record<string, MetricOptions> = {
  'messaging.client.operation.duration': { unit: 's', description: OPERATION_DURATION },
  'messaging.process.duration': { unit: 's', description: PROCESS_DURATION },
  'messaging.client.sent.messages': { unit: '{message}', description: SENT, valueType: ValueType.INT },
  'messaging.client.consumed.messages': { unit: '{message}', description: CONSUMED, valueType: ValueType.INT },
};

/**
 * `meter`, filling in the unit, description (and, for the counters, integer
 * values) of the messaging instruments when the caller left them out, as
 * upstream instrumentation-kafkajs does: without a unit, a backend cannot
 * tell its seconds from milliseconds. What the caller did set is kept; other
 * instruments pass through unchanged.
 */
export function withConventionalUnits(meter: Meter): Meter {
  const fill = (name: string, o: MetricOptions | undefined): MetricOptions | undefined => {
    const c = CONVENTIONAL[name];
    if (!c) return o;
    return { ...c, ...o, unit: o?.unit || c.unit, description: o?.description || c.description };
  };
  // The meter's other methods keep working on the original (its prototype).
  const m = Object.create(meter) as Meter;
  m.createHistogram = (n, o) => meter.createHistogram(n, fill(n, o));
  m.createCounter = (n, o) => meter.createCounter(n, fill(n, o));
  return m;
}
