/**
 * AWS SDK v3: upstream instrumentation-aws-sdk, configured (S3 object keys, no HTTP span under
 * an AWS call) and with its SQS, SNS and DynamoDB service extensions replaced or wrapped by the
 * agent's (sqs.ts, sns.ts, dynamodb.ts). See docs/aws-sdk.md.
 */
import { metrics } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { AwsSdkInstrumentationConfig } from '@opentelemetry/instrumentation-aws-sdk';
import type { AgentLog } from '../../log';
import { MessagingMetrics } from '../messaging/metrics';
import { dynamodbExtension } from './dynamodb';
import { snsExtension } from './sns';
import { sqsExtension } from './sqs';
import { contained, type RequestMetadata, type ServiceExtension } from './types';

export const config: AwsSdkInstrumentationConfig = {
  // The SDK's own HTTP request must not appear as a second CLIENT span (for every service:
  // upstream runs the whole command under suppressTracing, so no traceparent reaches AWS).
  suppressInternalInstrumentation: true,
  // Upstream records only the bucket for S3; the object key (and, for multipart
  // uploads, which upload and part) is what a user looks for in a slow S3 span.
  // Only these identifiers are read from the command input, never Body or metadata.
  preRequestHook: (span, info) => {
    const input = info.request.commandInput;
    if (info.request.serviceName !== 'S3' || !input || !span.isRecording()) return;
    if (typeof input.Key === 'string') span.setAttribute('aws.s3.key', input.Key);
    if (typeof input.UploadId === 'string') span.setAttribute('aws.s3.upload_id', input.UploadId);
    if (typeof input.PartNumber === 'number') span.setAttribute('aws.s3.part_number', input.PartNumber);
  },
};

/** Every hook of `ext`, each contained: a failing hook must not fail the app's AWS call. */
function guarded(name: string, ext: ServiceExtension, log: AgentLog): ServiceExtension {
  const out: ServiceExtension = {
    requestPreSpanHook: contained(log, `${name} span setup`, ext.requestPreSpanHook.bind(ext), (): RequestMetadata => ({ isIncoming: false })),
  };
  if (ext.requestPostSpanHook) out.requestPostSpanHook = contained(log, `${name} context injection`, ext.requestPostSpanHook.bind(ext), () => undefined);
  if (ext.responseHook) out.responseHook = contained(log, `${name} response handling`, ext.responseHook.bind(ext), () => undefined);
  return out;
}

/** Puts the agent's service extensions into an AwsInstrumentation (upstream keeps them in a Map). */
function install(instr: Instrumentation, log: AgentLog, m: MessagingMetrics | undefined): void {
  const services = (instr as unknown as { servicesExtensions?: { services?: unknown } }).servicesExtensions?.services;
  if (!(services instanceof Map)) {
    log.warnOnce(
      'aws-sdk:services',
      "aws-sdk: this @opentelemetry/instrumentation-aws-sdk keeps no servicesExtensions.services map; SQS, SNS and DynamoDB get upstream's own spans and context handling (see docs/aws-sdk.md); tracing goes on",
    );
    return;
  }
  const map = services as Map<string, ServiceExtension>;
  map.set('SQS', guarded('SQS', sqsExtension(log, m), log));
  map.set('SNS', guarded('SNS', snsExtension(log), log));
  const dynamo = map.get('DynamoDB');
  if (dynamo) map.set('DynamoDB', guarded('DynamoDB', dynamodbExtension(dynamo), log));
}

/** `metricsOn`: a metrics exporter is set (the SQS messaging metrics, sqs.ts). */
export function shape(log: AgentLog, build: (c: AwsSdkInstrumentationConfig) => Instrumentation[], metricsOn = false): Instrumentation[] {
  const list = build(config);
  const m = metricsOn ? new MessagingMetrics(metrics.getMeter('@x/otel-agent/aws-sdk')) : undefined;
  for (const i of list) install(i, log, m);
  return list;
}
