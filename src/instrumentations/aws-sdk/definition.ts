/** AWS SDK v3 clients: upstream instrumentation-aws-sdk, plus the S3 object key. */
import type { AwsSdkInstrumentationConfig } from '@opentelemetry/instrumentation-aws-sdk';
import type { Definition } from '../definition';

export const awsSdk: Definition = {
  name: 'aws-sdk',
  triggers: ['@aws-sdk/', '@smithy/'],
  esm: ['@aws-sdk/client-s3', '@aws-sdk/client-sqs', '@aws-sdk/client-dynamodb', '@aws-sdk/client-sns', '@aws-sdk/lib-storage'],
  source: { upstream: '@opentelemetry/instrumentation-aws-sdk', export: 'AwsInstrumentation' },
  create: (_ctx, kit) =>
    kit.one<AwsSdkInstrumentationConfig>('aws-sdk', 'AwsInstrumentation', {
      // The SDK's own HTTP request must not appear as a second CLIENT span.
      suppressInternalInstrumentation: true,
      // Upstream records only the bucket for S3; the object key (and, for multipart
      // uploads, which upload and part) is what a user looks for in a slow S3 span.
      // Only these identifiers are read from the command input, never Body or metadata.
      preRequestHook: (span, info) => {
        const input = info.request.commandInput;
        if (info.request.serviceName !== 'S3' || !input) return;
        if (typeof input.Key === 'string') span.setAttribute('aws.s3.key', input.Key);
        if (typeof input.UploadId === 'string') span.setAttribute('aws.s3.upload_id', input.UploadId);
        if (typeof input.PartNumber === 'number') span.setAttribute('aws.s3.part_number', input.PartNumber);
      },
    }),
  docs: {
    module: '`@aws-sdk/client-*`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'CLIENT `S3.PutObject`',
    page: 'aws-sdk.md',
  },
};
