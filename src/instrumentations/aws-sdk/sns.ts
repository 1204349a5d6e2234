/**
 * SNS, replacing upstream's SNS extension: Publish is a `send <topic>` PRODUCER span with the
 * trace context added to the message attributes (carrier.ts), which SNS hands on to SQS
 * subscribers (as message attributes with raw delivery, inside the JSON envelope otherwise).
 * Other commands are CLIENT spans `SNS.<Operation>`. A phone number (SMS publish) is never
 * recorded; upstream puts it in messaging.destination.name.
 */
import { SpanKind, type Attributes as SpanAttributes } from '@opentelemetry/api';
import type { AgentLog } from '../../log';
import { injectInto } from './carrier';
import type { ServiceExtension } from './types';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

export function snsExtension(log: AgentLog): ServiceExtension {
  return {
    requestPreSpanHook: (request) => {
      const input = request.commandInput;
      const arn = str(input?.TopicArn) ?? str(input?.TargetArn);
      const attrs: SpanAttributes = { 'messaging.system': 'aws.sns' };
      if (str(input?.TopicArn)) attrs['aws.sns.topic.arn'] = input!.TopicArn as string;
      if (request.commandName !== 'Publish') return { isIncoming: false, spanAttributes: attrs };
      const dest = arn ? arn.slice(arn.lastIndexOf(':') + 1) : str(input?.PhoneNumber) ? 'phone_number' : 'unknown';
      attrs['messaging.destination.name'] = dest;
      attrs['messaging.operation.name'] = 'send';
      attrs['messaging.operation.type'] = 'send';
      return { isIncoming: false, spanKind: SpanKind.PRODUCER, spanName: `send ${dest}`, spanAttributes: attrs };
    },
    requestPostSpanHook: (request) => {
      if (request.commandName === 'Publish' && request.commandInput) injectInto(request.commandInput, log);
    },
    responseHook: (response, span) => {
      if (response.request.commandName === 'Publish' && span.isRecording() && typeof response.data?.MessageId === 'string') {
        span.setAttribute('messaging.message.id', response.data.MessageId);
      }
    },
  };
}
