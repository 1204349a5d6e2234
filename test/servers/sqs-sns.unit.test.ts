// Exercises the SQS/SNS stand-in with the real @aws-sdk/client-sqs and client-sns (no tracing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { startSqsSns, type SqsSnsServer } from './sqs-sns';

let srv: SqsSnsServer;
let sqs: SQSClient;
let sns: SNSClient;
beforeAll(async () => {
  srv = await startSqsSns();
  const cfg = { endpoint: srv.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'STANDIN', secretAccessKey: 'STANDIN' } };
  sqs = new SQSClient(cfg);
  sns = new SNSClient(cfg);
});
afterAll(async () => {
  sqs?.destroy();
  sns?.destroy();
  await srv?.close();
});

describe('SQS/SNS stand-in', () => {
  it('sends, receives (with attribute filtering) and deletes SQS messages', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'unit-q' }));
    expect(QueueUrl).toBe(`${srv.endpoint}/000000000000/unit-q`);
    expect((await sqs.send(new GetQueueUrlCommand({ QueueName: 'unit-q' }))).QueueUrl).toBe(QueueUrl);
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: 'hello',
        MessageAttributes: { a: { DataType: 'String', StringValue: '1' }, 'x.b': { DataType: 'Number', StringValue: '2' } },
      }),
    );
    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    const batch = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'one', MessageBody: 'b1' },
          { Id: 'two', MessageBody: 'b2' },
        ],
      }),
    );
    expect(batch.Successful?.map((s) => s.Id)).toEqual(['one', 'two']);

    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['x.*'] }));
    expect(r.Messages?.map((m) => m.Body)).toEqual(['hello', 'b1', 'b2']);
    expect(r.Messages?.[0]?.MessageAttributes).toEqual({ 'x.b': { DataType: 'Number', StringValue: '2' } });
    // In flight: not received again.
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl }))).Messages).toBeUndefined();
    for (const m of r.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    expect(srv.messages('unit-q')).toEqual([]);
  });

  it('rejects more than 10 message attributes, like SQS', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'unit-limit' }));
    const MessageAttributes = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, { DataType: 'String', StringValue: 'v' }]));
    await expect(sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x', MessageAttributes }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(sqs.send(new SendMessageCommand({ QueueUrl: `${srv.endpoint}/000000000000/nope`, MessageBody: 'x' }))).rejects.toMatchObject({
      name: 'QueueDoesNotExist',
    });
  });

  it('long-polls until a message arrives', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'unit-wait' }));
    const pending = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'late' }));
    expect((await pending).Messages?.map((m) => m.Body)).toEqual(['late']);
  });

  it('fans SNS publishes out to SQS, raw and as the JSON envelope', async () => {
    const raw = (await sqs.send(new CreateQueueCommand({ QueueName: 'unit-raw' }))).QueueUrl!;
    const env = (await sqs.send(new CreateQueueCommand({ QueueName: 'unit-env' }))).QueueUrl!;
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'unit-topic' }));
    expect(TopicArn).toBe('arn:aws:sns:us-east-1:000000000000:unit-topic');
    await sns.send(
      new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:unit-raw', Attributes: { RawMessageDelivery: 'true' } }),
    );
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:unit-env' }));
    const pub = await sns.send(new PublishCommand({ TopicArn, Message: 'news', MessageAttributes: { kind: { DataType: 'String', StringValue: 'k1' } } }));
    expect(pub.MessageId).toMatch(/^[0-9a-f-]{36}$/);

    const r1 = await sqs.send(new ReceiveMessageCommand({ QueueUrl: raw, MessageAttributeNames: ['All'] }));
    expect(r1.Messages?.[0]).toMatchObject({ Body: 'news', MessageAttributes: { kind: { DataType: 'String', StringValue: 'k1' } } });
    const r2 = await sqs.send(new ReceiveMessageCommand({ QueueUrl: env, MessageAttributeNames: ['All'] }));
    const envelope = JSON.parse(r2.Messages?.[0]?.Body ?? '{}') as Record<string, unknown>;
    expect(envelope).toMatchObject({
      Type: 'Notification',
      TopicArn,
      Message: 'news',
      MessageId: pub.MessageId,
      MessageAttributes: { kind: { Type: 'String', Value: 'k1' } },
    });
    expect(r2.Messages?.[0]?.MessageAttributes).toBeUndefined();
  });
});
