/**
 * SQS, replacing upstream's SQS extension: `send <queue>` PRODUCER spans for SendMessage and
 * SendMessageBatch with the context in each message's attributes (carrier.ts), `receive
 * <queue>` CLIENT spans for ReceiveMessage linked to every received message's producer, and
 * `process <queue>` CONSUMER spans for the app's work on each message (process.ts).
 *
 * Upstream (0.79) makes ReceiveMessage a CONSUMER span with the links but has no processing
 * span (it no longer patches the Messages array), names spans `<queue> send`, writes into the
 * app's own MessageAttributes object, skips injection whenever app attributes + every
 * propagator field (3 with baggage) exceed 10 even though only `traceparent` would be sent,
 * warns on every such message, and ignores the SNS envelope unless configured.
 */
import { propagation, ROOT_CONTEXT, SpanKind, trace, type Attributes as SpanAttributes, type Context } from '@opentelemetry/api';
import type { AgentLog } from '../../log';
import type { MessagingMetrics } from '../messaging/metrics';
import { asksFor, extractFrom, injectInto, stripFields, type ReceivedMessage } from './carrier';
import { traceProcessing } from './process';
import type { Input, NormalizedRequest, NormalizedResponse, RequestMetadata, ServiceExtension } from './types';

/** On a ReceiveMessage input: the app's MessageAttributeNames and the list we sent instead. */
const NAMES = Symbol('@x/otel-agent/aws-sdk-names');
interface Names {
  app: unknown[] | undefined;
  sent: unknown[];
}

const queueOf = (input: Input | undefined): { url: string | undefined; queue: string | undefined } => {
  const url = typeof input?.QueueUrl === 'string' ? input.QueueUrl : undefined;
  return { url, queue: url ? url.slice(url.lastIndexOf('/') + 1) || undefined : undefined };
};

/** The app's own MessageAttributeNames for this input (not the list we put there last time). */
function appNames(input: Input): unknown[] | undefined {
  const current = Array.isArray(input.MessageAttributeNames) ? (input.MessageAttributeNames as unknown[]) : undefined;
  const prev = input[NAMES] as Names | undefined;
  return prev && prev.sent === current ? prev.app : current;
}

function askForContext(input: Input): void {
  const app = appNames(input);
  const missing = propagation.fields().filter((f) => !asksFor(app, f));
  if (!missing.length) return;
  const sent = [...(app ?? []), ...missing];
  input.MessageAttributeNames = sent;
  Object.defineProperty(input, NAMES, { value: { app, sent } satisfies Names, configurable: true, writable: true, enumerable: false });
}

function preSpan(request: NormalizedRequest): RequestMetadata {
  const input = request.commandInput;
  const { url, queue } = queueOf(input);
  const attrs: SpanAttributes = { 'messaging.system': 'aws_sqs' };
  if (queue) attrs['messaging.destination.name'] = queue;
  if (url) attrs['url.full'] = url;
  const dest = queue ?? 'unknown';
  switch (request.commandName) {
    case 'SendMessage':
    case 'SendMessageBatch': {
      attrs['messaging.operation.name'] = 'send';
      attrs['messaging.operation.type'] = 'send';
      if (Array.isArray(input?.Entries)) attrs['messaging.batch.message_count'] = input.Entries.length;
      return { isIncoming: false, spanKind: SpanKind.PRODUCER, spanName: `send ${dest}`, spanAttributes: attrs };
    }
    case 'ReceiveMessage':
      attrs['messaging.operation.name'] = 'receive';
      attrs['messaging.operation.type'] = 'receive';
      // Current semconv: a pull-based receive is a CLIENT span; the work on each message is
      // the CONSUMER `process` span.
      return { isIncoming: false, spanKind: SpanKind.CLIENT, spanName: `receive ${dest}`, spanAttributes: attrs };
    default:
      return { isIncoming: false, spanAttributes: attrs };
  }
}

function received(
  response: NormalizedResponse,
  span: Parameters<NonNullable<ServiceExtension['responseHook']>>[1],
  tracer: Parameters<NonNullable<ServiceExtension['responseHook']>>[2],
  metrics: MessagingMetrics | undefined,
): void {
  const messages = response.data?.Messages;
  const recording = span.isRecording();
  if (!Array.isArray(messages) || messages.length === 0) {
    if (recording) span.setAttribute('messaging.batch.message_count', 0);
    return;
  }
  const input = response.request.commandInput ?? {};
  const names = appNames(input);
  const fields = propagation.fields();
  const parents = new WeakMap<object, Context>();
  for (const m of messages as ReceivedMessage[]) {
    if (m === null || typeof m !== 'object') continue;
    const parent = extractFrom(m, fields);
    stripFields(m, fields, names);
    const sc = parent && trace.getSpanContext(parent);
    if (!parent || !sc) continue;
    parents.set(m, parent);
    if (recording) span.addLink({ context: sc, attributes: typeof m.MessageId === 'string' ? { 'messaging.message.id': m.MessageId } : {} });
  }
  if (recording) span.setAttribute('messaging.batch.message_count', messages.length);
  const { queue } = queueOf(input);
  const attributes: SpanAttributes = { 'messaging.system': 'aws_sqs', 'messaging.operation.name': 'process', 'messaging.operation.type': 'process' };
  if (queue) attributes['messaging.destination.name'] = queue;
  if (metrics) {
    const a: SpanAttributes = { 'messaging.system': 'aws_sqs', 'messaging.operation.name': 'receive' };
    if (queue) a['messaging.destination.name'] = queue;
    // Pull-based: counted when received (the conventions' rule), not again when processed.
    metrics.consumed(messages.length, a, trace.setSpan(ROOT_CONTEXT, span));
  }
  traceProcessing(messages as ReceivedMessage[], { tracer, queue, attributes, parents, metrics });
}

/** `metrics`: set when metrics are on (messaging.client.consumed.messages and messaging.process.duration; docs/aws-sdk.md). */
export function sqsExtension(log: AgentLog, metrics?: MessagingMetrics): ServiceExtension {
  return {
    requestPreSpanHook: (request) => preSpan(request),
    requestPostSpanHook: (request) => {
      const input = request.commandInput;
      if (!input) return;
      if (request.commandName === 'SendMessage') injectInto(input, log);
      else if (request.commandName === 'SendMessageBatch' && Array.isArray(input.Entries)) {
        for (const e of input.Entries as unknown[]) if (e && typeof e === 'object') injectInto(e, log);
      } else if (request.commandName === 'ReceiveMessage') askForContext(input);
    },
    responseHook: (response, span, tracer) => {
      const op = response.request.commandName;
      if (op === 'ReceiveMessage') return received(response, span, tracer, metrics);
      if (op === 'SendMessage' && span.isRecording() && typeof response.data?.MessageId === 'string')
        span.setAttribute('messaging.message.id', response.data.MessageId);
    },
  };
}
