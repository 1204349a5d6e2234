/**
 * amqplib hooks. Upstream emits the pre-1.20 messaging attribute names. The hooks add the
 * current names beside them (queries on either keep working), take the
 * connection user out of messaging.url (upstream only masks the password),
 * and name consumer spans "process <queue>", the same shape as "publish <exchange>".
 *
 * Upstream records no metrics; with metrics on, withMetrics() adds them from the hooks, which
 * upstream calls for every message, sampled or not (docs/rabbitmq.md):
 * - messaging.process.duration + messaging.client.consumed.messages: from the delivery
 *   (consumeHook) to its ack / nack / reject (consumeEndHook; with noAck, the handler's return),
 *   with the ending operation as error.type when the message was nacked or rejected;
 * - messaging.client.sent.messages for every publish, and on a confirm channel
 *   messaging.client.operation.duration up to the broker's confirm (publishConfirmHook; a
 *   nack is error.type `nack`). A plain channel's publish has no end hook: no duration.
 * The hooks are given no channel, so these metrics carry no server.address.
 */
import { metrics, trace, ROOT_CONTEXT, type Attributes, type Span } from '@opentelemetry/api';
import { MessagingMetrics } from '../messaging/metrics';

interface HookSpan {
  setAttributes(a: Record<string, string | number>): void;
  setAttribute(k: string, v: string): void;
  updateName(n: string): void;
  readonly name?: unknown;
  readonly attributes?: Record<string, unknown>;
}
interface Props {
  messageId?: unknown;
  correlationId?: unknown;
}
const add = (span: HookSpan, op: 'send' | 'process', exchange: string, routingKey: string, props: Props | undefined, size: number | undefined): void => {
  const a: Record<string, string | number> = {
    'messaging.operation.type': op,
    'messaging.operation.name': op === 'send' ? 'publish' : 'process',
    'messaging.destination.name': exchange,
  };
  if (routingKey) a['messaging.rabbitmq.destination.routing_key'] = routingKey;
  if (typeof props?.messageId === 'string') a['messaging.message.id'] = props.messageId;
  if (typeof props?.correlationId === 'string') a['messaging.message.conversation_id'] = props.correlationId;
  if (typeof size === 'number') a['messaging.message.body.size'] = size;
  span.setAttributes(a);
  const url = span.attributes?.['messaging.url'];
  if (typeof url === 'string' && url.includes('@')) span.setAttribute('messaging.url', url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1'));
};

type PublishInfo = { exchange: string; routingKey: string; content?: { length: number }; options?: Props; isConfirmChannel?: boolean };
type ConsumeInfo = { msg: { content?: { length: number }; fields?: { exchange?: string; routingKey?: string; deliveryTag?: number }; properties?: Props } };

export const amqplibConfig = {
  publishHook: (span: HookSpan, p: { exchange: string; routingKey: string; content?: { length: number }; options?: Props }) =>
    add(span, 'send', p.exchange, p.routingKey, p.options, p.content?.length),
  consumeHook: (
    span: HookSpan,
    c: { msg: { content?: { length: number }; fields?: { exchange?: string; routingKey?: string; deliveryTag?: number }; properties?: Props } },
  ) => {
    add(span, 'process', c.msg.fields?.exchange ?? '', c.msg.fields?.routingKey ?? '', c.msg.properties, c.msg.content?.length);
    if (typeof c.msg.fields?.deliveryTag === 'number') span.setAttributes({ 'messaging.rabbitmq.message.delivery_tag': c.msg.fields.deliveryTag });
    if (typeof span.name === 'string' && span.name.endsWith(' process')) span.updateName(`process ${span.name.slice(0, -' process'.length)}`);
  },
};

/**
 * The destination the metrics count under: the exchange; for the default exchange (''), the
 * routing key, which is then the queue's name.
 */
const destination = (exchange: string | undefined, routingKey: string | undefined): string => exchange || routingKey || '';

export function withMetrics(): typeof amqplibConfig & {
  publishConfirmHook: (span: HookSpan, p: PublishInfo & { confirmError?: unknown }) => void;
  consumeEndHook: (span: HookSpan, c: ConsumeInfo & { rejected?: boolean | null; endOperation?: string }) => void;
} {
  const m = new MessagingMetrics(metrics.getMeter('@x/otel-agent/amqplib'));
  // Keyed by the message object upstream hands to both hooks of one delivery / one confirmed publish.
  const delivered = new WeakMap<object, { t0: number; a: Attributes }>();
  const confirming = new WeakMap<object, number[]>();
  const ctx = (span: HookSpan) => trace.setSpan(ROOT_CONTEXT, span as unknown as Span);
  const sendAttrs = (p: PublishInfo): Attributes => ({
    'messaging.system': 'rabbitmq',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'publish',
    'messaging.destination.name': destination(p.exchange, p.routingKey),
  });
  return {
    publishHook: (span, p: PublishInfo) => {
      amqplibConfig.publishHook(span, p);
      if (p.isConfirmChannel && p.content && typeof p.content === 'object') {
        const starts = confirming.get(p.content) ?? [];
        starts.push(MessagingMetrics.start());
        confirming.set(p.content, starts);
      } else m.count(sendAttrs(p), 1, false, undefined, ctx(span));
    },
    publishConfirmHook: (span, p) => {
      const t0 = p.content && typeof p.content === 'object' ? confirming.get(p.content)?.shift() : undefined;
      if (t0 === undefined) return;
      const failed = !!p.confirmError;
      m.sent(t0, sendAttrs(p), 1, failed, p.confirmError, ctx(span), failed ? 'nack' : undefined);
    },
    consumeHook: (span, c: ConsumeInfo) => {
      amqplibConfig.consumeHook(span, c);
      const f = c.msg.fields;
      delivered.set(c.msg, {
        t0: MessagingMetrics.start(),
        a: {
          'messaging.system': 'rabbitmq',
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'process',
          'messaging.destination.name': destination(f?.exchange, f?.routingKey),
        },
      });
    },
    consumeEndHook: (span, c) => {
      const d = delivered.get(c.msg);
      if (!d) return;
      delivered.delete(c.msg);
      // rejected: false for an ack (or noAck), true for nack / reject, null when the channel closed or upstream timed the message out.
      const failed = c.rejected !== false;
      m.processed(d.t0, d.a, failed, undefined, ctx(span), failed ? (c.endOperation ?? '_OTHER') : undefined);
    },
  };
}
