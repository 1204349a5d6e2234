/** AWS SDK v3 clients: upstream instrumentation-aws-sdk, shaped for S3, SQS, SNS and DynamoDB (shaping.ts). */
import type { Definition } from '../definition';

export const awsSdk: Definition = {
  name: 'aws-sdk',
  triggers: ['@aws-sdk/', '@smithy/'],
  esm: ['@aws-sdk/client-s3', '@aws-sdk/client-sqs', '@aws-sdk/client-dynamodb', '@aws-sdk/client-sns', '@aws-sdk/lib-storage', '@aws-sdk/lib-dynamodb'],
  source: { upstream: '@opentelemetry/instrumentation-aws-sdk', export: 'AwsInstrumentation' },
  bundles: ['shaping.ts'],
  create: (ctx, kit) =>
    kit
      .load<typeof import('./shaping')>('aws-sdk-shaping')
      .shape(ctx.log, (config) => kit.one('aws-sdk', 'AwsInstrumentation', config), ctx.cfg.metricsExporters.length > 0),
  docs: {
    module: '`@aws-sdk/client-*`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'CLIENT `S3.PutObject`, PRODUCER `send <queue>`, CONSUMER `process <queue>`',
    page: 'aws-sdk.md',
  },
};
