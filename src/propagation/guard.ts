/**
 * The one place every injection goes through. The global propagator is
 * wrapped so that whatever carrier and setter an instrumentation passes
 * (node:http's setHeader, undici's plain object that is later given to
 * Request.addHeader, kafkajs/amqplib header maps, SQS/SNS message
 * attributes, the queue hooks), a name that is not an RFC 9110 token or a
 * value that is not a field-value never reaches it: that one field is
 * dropped, counted, and the first drop is said once at debug level. A setter
 * or propagator that throws costs that field, never the app's call.
 *
 * Extraction is guarded too: a propagator that throws on hostile input
 * leaves the context as it was.
 */
import { diag, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';
import { isFieldValue, isToken } from './header-rules';

/** What could not be carried since the process started (the agent's handle shows it as `propagation`). */
export const dropCounts = { dropped: 0 };
let said = false;

/** Records one field that was not propagated; `name` is the field's name, never its value. */
export function countDrop(name: string, why: string): void {
  dropCounts.dropped++;
  if (said) return;
  said = true;
  diag.debug(
    `propagation: not sending ${JSON.stringify(name.slice(0, 64))} (${why}); further fields that cannot be carried are dropped and counted without a message`,
  );
}

/**
 * SQS and SNS message attributes (what @opentelemetry/instrumentation-aws-sdk's
 * setter writes: `{ DataType: 'String', StringValue }`) allow fewer names than
 * headers do, and at most 10 per message: over that the service rejects the
 * app's SendMessage/Publish.
 */
const ATTR_NAME = /^(?!aws\.|amazon\.)(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9_.-]{0,255}$/i;
const MAX_MESSAGE_ATTRIBUTES = 10;

function isMessageAttribute(v: unknown): boolean {
  return v !== null && typeof v === 'object' && (v as { DataType?: unknown }).DataType === 'String';
}

class GuardedSetter<C> implements TextMapSetter<C> {
  /** Set once the first field shows the carrier is a map of SQS/SNS message attributes. */
  private attributes = false;
  constructor(private readonly setter: TextMapSetter<C>) {}

  set(carrier: C, key: string, value: string): void {
    if (typeof key !== 'string' || !isToken(key)) return countDrop(String(key), 'not a header name');
    if (typeof value !== 'string' || !isFieldValue(value)) return countDrop(key, 'value not valid in a header');
    if (this.attributes) {
      if (!ATTR_NAME.test(key) || key.endsWith('.')) return countDrop(key, 'not an SQS/SNS message attribute name');
      if (Object.keys(carrier as object).length >= MAX_MESSAGE_ATTRIBUTES) return countDrop(key, 'message already has 10 attributes');
    }
    try {
      this.setter.set(carrier, key, value);
    } catch {
      return countDrop(key, 'the carrier refused it');
    }
    if (!this.attributes && carrier !== null && typeof carrier === 'object') this.attributes = isMessageAttribute((carrier as Record<string, unknown>)[key]);
  }
}

/** The value @opentelemetry/api uses when inject() is called without a setter. */
const defaultSetter: TextMapSetter = {
  set(carrier, key, value) {
    if (carrier !== null && carrier !== undefined) (carrier as Record<string, string>)[key] = value;
  },
};

export class GuardedPropagator implements TextMapPropagator {
  constructor(private readonly inner: TextMapPropagator) {}

  inject(ctx: Context, carrier: unknown, setter: TextMapSetter = defaultSetter): void {
    try {
      this.inner.inject(ctx, carrier, new GuardedSetter(setter));
    } catch {
      countDrop('(all fields)', 'a propagator failed');
    }
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    try {
      return this.inner.extract(ctx, carrier, getter);
    } catch {
      return ctx;
    }
  }

  fields(): string[] {
    return this.inner.fields();
  }
}
