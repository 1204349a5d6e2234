/**
 * amqplib hooks. Upstream emits the pre-1.20 messaging attribute names. The hooks add the
 * current names beside them (queries on either keep working), take the
 * connection user out of messaging.url (upstream only masks the password),
 * and name consumer spans "process <queue>", the same shape as "publish <exchange>".
 */
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
