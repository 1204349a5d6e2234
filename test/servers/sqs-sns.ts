/**
 * In-memory SQS + SNS stand-in for tests, one HTTP server on 127.0.0.1 that the real
 * `@aws-sdk/client-sqs` and `@aws-sdk/client-sns` (v3) talk to through their whole stack
 * (middleware, SigV4 signing, node-http-handler). Signatures are not checked.
 *
 * SQS, AWS JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.<Action>`, JSON bodies), what current
 * SDKs speak: CreateQueue, GetQueueUrl, SendMessage, SendMessageBatch, ReceiveMessage (long
 * polling up to WaitTimeSeconds, MaxNumberOfMessages, MessageAttributeNames filtering with
 * `All`, `.*` and `prefix.*`, VisibilityTimeout), DeleteMessage. Bodies get real MD5s, which
 * the SDK checks. The 10-message-attribute limit is enforced as on AWS (InvalidParameterValue).
 * Queue URLs point at this server (`<endpoint>/000000000000/<name>`): the SDK sends each call
 * to its queue's URL.
 *
 * SNS, query protocol (form-encoded `Action=...`, XML responses): CreateTopic, Subscribe
 * (protocol `sqs` only, with the `RawMessageDelivery` attribute), Publish with fan-out to the
 * subscribed queues: raw delivery copies the body and message attributes; otherwise the SQS
 * body is the SNS JSON envelope (Type Notification, MessageAttributes as {Type, Value}).
 *
 * Not implemented: FIFO queues, DelaySeconds, dead-letter queues, queue attributes, message
 * system attributes, ChangeMessageVisibility, PurgeQueue, batch delete, Binary attribute
 * values in SNS envelopes, SNS filter policies, PublishBatch, every other action and protocol
 * (the older query protocol for SQS), and auth. Unknown actions answer a 400 error.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const MAX_ATTRIBUTES = 10;

export interface SqsAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

export interface StoredMessage {
  MessageId: string;
  Body: string;
  MessageAttributes: Record<string, SqsAttribute>;
  receipt?: string;
  invisibleUntil: number;
}

export interface SqsSnsRequest {
  /** `AmazonSQS.SendMessage` or `SNS.Publish`. */
  action: string;
  headers: IncomingMessage['headers'];
}

export interface SqsSnsServer {
  endpoint: string;
  /** Env a fixture reads: AWS_ENDPOINT, AWS_REGION and static credentials. */
  env(): Record<string, string>;
  /** Messages currently stored in a queue (visible or in flight), oldest first. */
  messages(queue: string): StoredMessage[];
  requests: SqsSnsRequest[];
  close(): Promise<void>;
}

class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

interface Queue {
  name: string;
  url: string;
  messages: StoredMessage[];
  waiters: Set<() => void>;
}

interface Subscription {
  arn: string;
  queue: string;
  raw: boolean;
}

const md5 = (s: string): string => createHash('md5').update(s, 'utf8').digest('hex');

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** AWS names a wildcard `All` or `.*`, or a prefix `name.*`. */
function selectAttributes(all: Record<string, SqsAttribute>, names: unknown): Record<string, SqsAttribute> | undefined {
  if (!Array.isArray(names) || names.length === 0) return undefined;
  const out: Record<string, SqsAttribute> = {};
  for (const [k, v] of Object.entries(all)) {
    const wanted = names.some(
      (n: unknown) => typeof n === 'string' && (n === 'All' || n === '.*' || n === k || (n.endsWith('.*') && k.startsWith(n.slice(0, -1)))),
    );
    if (wanted) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

function checkAttributes(attrs: unknown): Record<string, SqsAttribute> {
  const a = (attrs ?? {}) as Record<string, SqsAttribute>;
  const n = Object.keys(a).length;
  if (n > MAX_ATTRIBUTES) throw new AwsError('InvalidParameterValue', `Number of message attributes [${n}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`);
  return a;
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export async function startSqsSns(): Promise<SqsSnsServer> {
  const queues = new Map<string, Queue>();
  const topics = new Map<string, Subscription[]>();
  const requests: SqsSnsRequest[] = [];
  let endpoint = '';

  const queueFromUrl = (url: unknown): Queue => {
    const name = typeof url === 'string' ? url.slice(url.lastIndexOf('/') + 1) : '';
    const q = queues.get(name);
    if (!q) throw new AwsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return q;
  };

  const enqueue = (q: Queue, body: string, attrs: Record<string, SqsAttribute>): StoredMessage => {
    const m: StoredMessage = { MessageId: randomUUID(), Body: body, MessageAttributes: attrs, invisibleUntil: 0 };
    q.messages.push(m);
    for (const wake of q.waiters) wake();
    return m;
  };

  const visible = (q: Queue, max: number): StoredMessage[] => {
    const now = Date.now();
    return q.messages.filter((m) => m.invisibleUntil <= now).slice(0, max);
  };

  async function sqs(action: string, input: Record<string, unknown>): Promise<unknown> {
    switch (action) {
      case 'CreateQueue': {
        const name = String(input.QueueName);
        if (!queues.has(name)) queues.set(name, { name, url: `${endpoint}/${ACCOUNT}/${name}`, messages: [], waiters: new Set() });
        return { QueueUrl: queues.get(name)!.url };
      }
      case 'GetQueueUrl': {
        const q = queues.get(String(input.QueueName));
        if (!q) throw new AwsError('QueueDoesNotExist', 'The specified queue does not exist.');
        return { QueueUrl: q.url };
      }
      case 'SendMessage': {
        const q = queueFromUrl(input.QueueUrl);
        const m = enqueue(q, String(input.MessageBody), checkAttributes(input.MessageAttributes));
        return { MessageId: m.MessageId, MD5OfMessageBody: md5(m.Body) };
      }
      case 'SendMessageBatch': {
        const q = queueFromUrl(input.QueueUrl);
        const entries = (input.Entries ?? []) as Array<Record<string, unknown>>;
        if (entries.length > 10)
          throw new AwsError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are 10. You have sent ${entries.length}.`);
        const Successful: unknown[] = [];
        const Failed: unknown[] = [];
        for (const e of entries) {
          try {
            const m = enqueue(q, String(e.MessageBody), checkAttributes(e.MessageAttributes));
            Successful.push({ Id: e.Id, MessageId: m.MessageId, MD5OfMessageBody: md5(m.Body) });
          } catch (err) {
            const ae = err as AwsError;
            Failed.push({ Id: e.Id, SenderFault: true, Code: ae.code, Message: ae.message });
          }
        }
        return { Successful, Failed };
      }
      case 'ReceiveMessage': {
        const q = queueFromUrl(input.QueueUrl);
        const max = Math.min(10, Number(input.MaxNumberOfMessages ?? 1));
        const waitMs = Math.min(20, Number(input.WaitTimeSeconds ?? 0)) * 1000;
        let got = visible(q, max);
        if (got.length === 0 && waitMs > 0) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              clearTimeout(t);
              q.waiters.delete(done);
              resolve();
            };
            const t = setTimeout(done, waitMs);
            t.unref();
            q.waiters.add(done);
          });
          got = visible(q, max);
        }
        const hideMs = Number(input.VisibilityTimeout ?? 30) * 1000;
        const Messages = got.map((m) => {
          m.receipt = randomUUID();
          m.invisibleUntil = Date.now() + hideMs;
          const attrs = selectAttributes(m.MessageAttributes, input.MessageAttributeNames);
          return { MessageId: m.MessageId, ReceiptHandle: m.receipt, MD5OfBody: md5(m.Body), Body: m.Body, ...(attrs ? { MessageAttributes: attrs } : {}) };
        });
        return Messages.length ? { Messages } : {};
      }
      case 'DeleteMessage': {
        const q = queueFromUrl(input.QueueUrl);
        q.messages = q.messages.filter((m) => m.receipt !== input.ReceiptHandle);
        return {};
      }
      default:
        throw new AwsError('UnsupportedOperation', `${action} is not implemented by this stand-in`);
    }
  }

  function sns(action: string, p: URLSearchParams): string {
    switch (action) {
      case 'CreateTopic': {
        const arn = `arn:aws:sns:${REGION}:${ACCOUNT}:${p.get('Name')}`;
        if (!topics.has(arn)) topics.set(arn, []);
        return `<TopicArn>${xmlEscape(arn)}</TopicArn>`;
      }
      case 'Subscribe': {
        const subs = topics.get(p.get('TopicArn') ?? '');
        if (!subs) throw new AwsError('NotFound', 'Topic does not exist', 404);
        if (p.get('Protocol') !== 'sqs') throw new AwsError('InvalidParameter', 'only the sqs protocol is implemented');
        const endpointArn = p.get('Endpoint') ?? '';
        const queue = endpointArn.slice(endpointArn.lastIndexOf(':') + 1);
        let raw = false;
        for (let i = 1; p.has(`Attributes.entry.${i}.key`); i++) {
          if (p.get(`Attributes.entry.${i}.key`) === 'RawMessageDelivery') raw = p.get(`Attributes.entry.${i}.value`) === 'true';
        }
        const arn = `${p.get('TopicArn')}:${randomUUID()}`;
        subs.push({ arn, queue, raw });
        return `<SubscriptionArn>${xmlEscape(arn)}</SubscriptionArn>`;
      }
      case 'Publish': {
        const topicArn = p.get('TopicArn') ?? '';
        const subs = topics.get(topicArn);
        if (!subs) throw new AwsError('NotFound', 'Topic does not exist', 404);
        const attrs: Record<string, SqsAttribute> = {};
        for (let i = 1; p.has(`MessageAttributes.entry.${i}.Name`); i++) {
          const v: SqsAttribute = { DataType: p.get(`MessageAttributes.entry.${i}.Value.DataType`) ?? 'String' };
          const sv = p.get(`MessageAttributes.entry.${i}.Value.StringValue`);
          if (sv !== null) v.StringValue = sv;
          attrs[p.get(`MessageAttributes.entry.${i}.Name`)!] = v;
        }
        if (Object.keys(attrs).length > MAX_ATTRIBUTES) throw new AwsError('InvalidParameterValue', 'Too many message attributes');
        const messageId = randomUUID();
        const message = p.get('Message') ?? '';
        for (const s of subs) {
          const q = queues.get(s.queue);
          if (!q) continue;
          if (s.raw) {
            enqueue(q, message, attrs);
            continue;
          }
          const envelopeAttrs = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, { Type: v.DataType, Value: v.StringValue }]));
          const envelope = {
            Type: 'Notification',
            MessageId: messageId,
            TopicArn: topicArn,
            ...(p.get('Subject') ? { Subject: p.get('Subject') } : {}),
            Message: message,
            Timestamp: new Date().toISOString(),
            SignatureVersion: '1',
            Signature: 'stand-in',
            SigningCertURL: `${endpoint}/cert.pem`,
            UnsubscribeURL: `${endpoint}/?Action=Unsubscribe&SubscriptionArn=${s.arn}`,
            ...(Object.keys(envelopeAttrs).length ? { MessageAttributes: envelopeAttrs } : {}),
          };
          enqueue(q, JSON.stringify(envelope), {});
        }
        return `<MessageId>${messageId}</MessageId>`;
      }
      default:
        throw new AwsError('InvalidAction', `${action} is not implemented by this stand-in`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = req.headers['x-amz-target'];
    const requestId = randomUUID();
    if (typeof target === 'string' && target.startsWith('AmazonSQS.')) {
      const action = target.slice('AmazonSQS.'.length);
      requests.push({ action: target, headers: req.headers });
      try {
        const out = await sqs(action, body ? (JSON.parse(body) as Record<string, unknown>) : {});
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId });
        res.end(JSON.stringify(out));
      } catch (e) {
        const ae = e instanceof AwsError ? e : new AwsError('InternalError', String(e), 500);
        res.writeHead(ae.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId, 'x-amzn-query-error': `${ae.code};Sender` });
        res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${ae.code}`, message: ae.message }));
      }
      return;
    }
    const p = new URLSearchParams(body);
    const action = p.get('Action') ?? '';
    requests.push({ action: `SNS.${action}`, headers: req.headers });
    try {
      const result = sns(action, p);
      res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(
        `<${action}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><${action}Result>${result}</${action}Result>` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
      );
    } catch (e) {
      const ae = e instanceof AwsError ? e : new AwsError('InternalError', String(e), 500);
      res.writeHead(ae.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(
        `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>${ae.code}</Code>` +
          `<Message>${xmlEscape(ae.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.statusCode = 500;
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    env: () => ({ AWS_ENDPOINT: endpoint, AWS_REGION: REGION, AWS_ACCESS_KEY_ID: 'STANDIN', AWS_SECRET_ACCESS_KEY: 'STANDIN' }),
    messages: (name) => queues.get(name)?.messages ?? [],
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const q of queues.values()) for (const wake of q.waiters) wake();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
