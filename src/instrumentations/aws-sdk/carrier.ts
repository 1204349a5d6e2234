/**
 * Trace context in SQS/SNS message attributes: written by a producer without touching the
 * app's own attributes or going over the 10-attribute limit, read back by a consumer from the
 * message attributes or, for an SNS notification delivered to SQS without raw delivery, from
 * the JSON envelope in the body.
 */
import { context, propagation, ROOT_CONTEXT, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import type { AgentLog } from '../../log';

/** SQS (and SNS delivered to SQS) rejects a message with more message attributes than this. */
export const MAX_MESSAGE_ATTRIBUTES = 10;

export interface MessageAttribute {
  DataType?: string;
  StringValue?: string;
  /** The SNS envelope spells it `{ Type, Value }`. */
  Value?: string;
}
export type Attributes = Record<string, MessageAttribute>;

const setter: TextMapSetter<Attributes> = {
  set: (c, k, v) => {
    c[k] = { DataType: 'String', StringValue: v };
  },
};

/** Remembers, on a command input (or batch entry), the app's own attributes and what we sent. */
const SENT = Symbol('@x/otel-agent/aws-sdk-attributes');
interface Holder {
  MessageAttributes?: Attributes;
  [SENT]?: { app: Attributes | undefined; sent: Attributes };
}

/**
 * Sets `holder.MessageAttributes` to the app's attributes plus the active trace context. The
 * app's object is never modified (a copy is sent), and an attribute the app set itself (even
 * `traceparent`) wins. When the same command is sent again, the copy we sent last time is
 * recognised, so a stale context is never carried over.
 */
export function injectInto(holder: Holder, log: AgentLog): void {
  const current = holder.MessageAttributes;
  const prev = holder[SENT];
  const app = prev && prev.sent === current ? prev.app : current;
  // Injected as message attributes into a fresh object: the propagation guard then applies
  // SQS's attribute-name rules (src/propagation/guard.ts), and the room left is counted here.
  const carrier: Attributes = {};
  propagation.inject(context.active(), carrier, setter);
  const have = app ? Object.keys(app).length : 0;
  const sent: Attributes = { ...app };
  const dropped: string[] = [];
  let count = have;
  for (const [k, v] of Object.entries(carrier)) {
    if (app && k in app) continue;
    if (count >= MAX_MESSAGE_ATTRIBUTES) {
      dropped.push(k);
      continue;
    }
    sent[k] = v;
    count++;
  }
  if (dropped.length) {
    log.warnOnce(
      'aws-sdk:attribute-limit',
      `aws-sdk: a message with ${have} message attributes has no room for ${dropped.join(', ')} (SQS and SNS allow ${MAX_MESSAGE_ATTRIBUTES}); ` +
        'they are left out, and a message left without its trace context starts a new trace at its consumer (said once)',
    );
  }
  if (count === have) return;
  holder.MessageAttributes = sent;
  Object.defineProperty(holder, SENT, { value: { app, sent }, configurable: true, writable: true, enumerable: false });
}

const getter: TextMapGetter<Attributes> = {
  keys: (c) => Object.keys(c),
  get: (c, k) => {
    const a = c[k];
    return a?.StringValue ?? a?.Value;
  },
};

export interface ReceivedMessage {
  MessageId?: string;
  Body?: string;
  MessageAttributes?: Attributes;
}

/** Whether `attrs` holds any of the propagator's fields. */
const hasFields = (attrs: Attributes | undefined, fields: string[]): attrs is Attributes => !!attrs && fields.some((f) => f in attrs);

/**
 * The producer's context of one received message (ROOT_CONTEXT based), or undefined. An SNS
 * notification that was not delivered raw carries the publisher's attributes inside the body's
 * JSON envelope; only a body that looks like one is parsed, never recorded.
 */
export function extractFrom(m: ReceivedMessage, fields: string[]): Context | undefined {
  if (hasFields(m.MessageAttributes, fields)) return propagation.extract(ROOT_CONTEXT, m.MessageAttributes, getter);
  const body = m.Body;
  if (typeof body !== 'string' || body.charCodeAt(0) !== 123 /* { */ || !body.includes('"Notification"') || !body.includes('"TopicArn"')) return undefined;
  try {
    const attrs = (JSON.parse(body) as { MessageAttributes?: Attributes }).MessageAttributes;
    return hasFields(attrs, fields) ? propagation.extract(ROOT_CONTEXT, attrs, getter) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the app's MessageAttributeNames already ask for `name`. */
export function asksFor(names: readonly unknown[] | undefined, name: string): boolean {
  return !!names?.some((n) => typeof n === 'string' && (n === 'All' || n === '.*' || n === name || (n.endsWith('.*') && name.startsWith(n.slice(0, -1)))));
}

/**
 * Takes back out of a received message the propagation attributes the agent asked SQS for and
 * the app did not, so the app sees the attributes it would see without the agent.
 */
export function stripFields(m: ReceivedMessage, fields: string[], appNames: readonly unknown[] | undefined): void {
  const attrs = m.MessageAttributes;
  if (!attrs) return;
  for (const f of fields) if (f in attrs && !asksFor(appNames, f)) delete attrs[f];
  if (Object.keys(attrs).length === 0) delete m.MessageAttributes;
}
