/**
 * The instrumentation table: short name -> which module loads trigger it, and a
 * factory that is only called when one of those modules is first required or
 * imported. An app that never loads `pg` never loads the pg instrumentation.
 *
 * In the built agent every factory's package is a separate file under
 * dist/instr/, bundled against one shared copy of @opentelemetry/instrumentation
 * and @opentelemetry/api (see scripts/build.mjs), so the upstream packages'
 * exact-version pins do not turn into a dozen nested copies.
 */
import { trace, type Link, type Span } from '@opentelemetry/api';
import type { AwsSdkInstrumentationConfig } from '@opentelemetry/instrumentation-aws-sdk';
import type { KafkaJsInstrumentationConfig } from '@opentelemetry/instrumentation-kafkajs';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { AgentConfig } from '../env';
import type { AgentLog } from '../log';
import type { DbInstrumentationName } from './own/db-shaping';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { HttpConfig } from './own/http';
import type { UndiciInstrumentationConfig } from '@opentelemetry/instrumentation-undici';
import { clientSpanName, errorView, fetchUrlAttributes } from './http-naming';

export interface InstrContext {
  cfg: AgentConfig;
  log: AgentLog;
}

export interface Entry {
  name: string;
  /** Bare specifiers (or prefixes ending in '/') whose first resolution activates the entry; builtins without `node:`. */
  triggers: readonly string[];
  /** Specifiers to put on the import-in-the-middle include list, so ESM imports of them are wrappable. */
  esm: readonly string[];
  defaultOn: boolean;
  create(ctx: InstrContext): Instrumentation[];
}

/** Loads a bundled instrumentation file; the path is computed so the bundler leaves it alone. */
function load<T>(file: string): T {
  return require(`${__dirname}/instr/${file}.cjs`) as T;
}

type Ctor<C> = new (config?: C) => Instrumentation;
function one<C>(file: string, exportName: string, config: C): Instrumentation[] {
  const mod = load<Record<string, Ctor<C>>>(file);
  const C = mod[exportName];
  if (typeof C !== 'function') throw new Error(`${file} has no export ${exportName}`);
  return [new C(config)];
}

/**
 * Upstream database instrumentations with their configuration and the
 * corrections in own/db-shaping.ts (span names, literal-free query text,
 * error.type, one span per Redis batch, no pool/handshake noise).
 */
function db(file: DbInstrumentationName, exportName: string): Instrumentation[] {
  return load<typeof import('./own/db-shaping')>('db-shaping').shape(file, (config) => one(file, exportName, config));
}

const lower = (s: string): string => s.toLowerCase();
const builtin = (...names: string[]): string[] => names.flatMap((n) => [n, `node:${n}`]);

/**
 * Activation can happen in the middle of a traced request (the first fetch()
 * is often inside a handler); loading the instrumentation's file reads it
 * through the patched fs, which must not show up as the request's fs spans.
 */
function untraced<T>(fn: () => T): T {
  return context.with(suppressTracing(context.active()), fn);
}

/**
 * error.type of a failed fetch: upstream uses `error.code || error.name`, which
 * for a timeout is the DOMException code 23. Its channel handlers are bound on
 * enable(), so the replacement is installed between a disable() and an enable().
 */
function preciseFetchErrors(i: Instrumentation | undefined): void {
  const inst = i as unknown as ({ onError?: (m: { request: unknown; error: unknown }) => unknown } & Instrumentation) | undefined;
  const orig = inst?.onError;
  if (!inst || typeof orig !== 'function') return;
  inst.disable();
  inst.onError = function (this: unknown, m: { request: unknown; error: unknown }) {
    return orig.call(this, { ...m, error: errorView(m.error, 'code') });
  };
  inst.enable();
}

export const ENTRIES: readonly Entry[] = [
  {
    // Own instrumentation (own/http.ts), built for per-request cost.
    name: 'http',
    triggers: ['http', 'https'],
    esm: builtin('http', 'https'),
    defaultOn: true,
    create: ({ cfg }) =>
      untraced(() =>
        one<HttpConfig>('http', 'HttpInstrumentation', {
          captureHeaders: {
            serverRequest: cfg.http.captureServerRequestHeaders.map(lower),
            serverResponse: cfg.http.captureServerResponseHeaders.map(lower),
            clientRequest: cfg.http.captureClientRequestHeaders.map(lower),
            clientResponse: cfg.http.captureClientResponseHeaders.map(lower),
          },
          metrics: cfg.metricsExporters.length > 0,
          propagators: cfg.propagators,
          testFault: cfg.agent.testFaults.includes('http-bookkeeping'),
        }),
      ),
  },
  {
    name: 'undici',
    triggers: ['undici'],
    esm: ['undici'],
    defaultOn: true,
    create: ({ cfg }) =>
      untraced(() => {
        const list = one<UndiciInstrumentationConfig>('undici', 'UndiciInstrumentation', {
          headersToSpanAttributes: { requestHeaders: [...cfg.http.captureClientRequestHeaders], responseHeaders: [...cfg.http.captureClientResponseHeaders] },
          startSpanHook: (req) => fetchUrlAttributes(req.origin, req.path, req.method),
          requestHook: (span, req) => {
            if (span.isRecording()) span.updateName(clientSpanName(req.method, req.origin, req.path));
          },
        });
        preciseFetchErrors(list[0]);
        return list;
      }),
  },
  {
    name: 'fs',
    triggers: ['fs', 'fs/promises'],
    esm: builtin('fs', 'fs/promises'),
    defaultOn: true,
    // Only inside a traced operation (a script reading its config at startup makes no spans),
    // no spans for existence/metadata checks unless OTEL_AGENT_FS_SPANS=all, no file paths
    // in errors: see own/fs-shaping.ts.
    create: ({ cfg }) =>
      untraced(() =>
        load<typeof import('./own/fs-shaping')>('fs-shaping').shapeFs(cfg.agent.fsSpans, (config) => one('fs', 'FsInstrumentation', config)),
      ),
  },
  {
    name: 'aws-sdk',
    triggers: ['@aws-sdk/', '@smithy/'],
    esm: ['@aws-sdk/client-s3', '@aws-sdk/client-sqs', '@aws-sdk/client-dynamodb', '@aws-sdk/client-sns', '@aws-sdk/lib-storage'],
    defaultOn: true,
    create: () =>
      one<AwsSdkInstrumentationConfig>('aws-sdk', 'AwsInstrumentation', {
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
  },
  {
    name: 'kafkajs',
    triggers: ['kafkajs'],
    esm: ['kafkajs'],
    defaultOn: true,
    create: () =>
      one<KafkaJsInstrumentationConfig>('kafkajs', 'KafkaJsInstrumentation', {
        // eachBatch: upstream links each per-message `process` span to its producer, but the
        // batch span (`poll <topic>`), under which the handler's own work runs, gets no links.
        // The hook runs while that batch span is active and the process span is its child,
        // so the producer link is copied onto the batch span as well. (For eachMessage the
        // process span's parent is the producer, never the active span: nothing happens.)
        consumerHook: (span) => {
          const batch = trace.getActiveSpan();
          const s = span as Span & { parentSpanContext?: { spanId: string }; links?: Link[] };
          if (!batch || !s.links?.length || s.parentSpanContext?.spanId !== batch.spanContext().spanId) return;
          batch.addLinks(s.links);
        },
      }),
  },
  {
    name: 'pg',
    triggers: ['pg', 'pg-pool'],
    esm: ['pg', 'pg-pool'],
    defaultOn: true,
    create: () => db('pg', 'PgInstrumentation'),
  },
  {
    name: 'mysql2',
    triggers: ['mysql2'],
    esm: ['mysql2', 'mysql2/promise'],
    defaultOn: true,
    create: () => db('mysql2', 'MySQL2Instrumentation'),
  },
  {
    name: 'redis',
    triggers: ['redis', '@redis/client'],
    esm: ['redis', '@redis/client'],
    defaultOn: true,
    create: () => db('redis', 'RedisInstrumentation'),
  },
  {
    name: 'ioredis',
    triggers: ['ioredis'],
    esm: ['ioredis'],
    defaultOn: true,
    create: () => db('ioredis', 'IORedisInstrumentation'),
  },
  {
    name: 'bullmq',
    triggers: ['bullmq'],
    esm: ['bullmq'],
    defaultOn: true,
    // Own instrumentation: jobs carry the adding span's context to the worker (see own/bullmq.ts).
    create: () => one('bullmq', 'BullMQInstrumentation', {}),
  },
  {
    name: 'mongodb',
    triggers: ['mongodb'],
    esm: ['mongodb'],
    defaultOn: true,
    create: () => db('mongodb', 'MongoDBInstrumentation'),
  },
  {
    // Own instrumentation (own/sqlite.ts). The built-in exists only as `node:sqlite`; the
    // loader compares specifiers without `node:`, import-in-the-middle needs the full name.
    name: 'sqlite',
    triggers: ['sqlite'],
    esm: ['node:sqlite'],
    defaultOn: true,
    create: () => one('sqlite', 'SqliteInstrumentation', {}),
  },
  {
    name: 'better-sqlite3',
    triggers: ['better-sqlite3'],
    esm: ['better-sqlite3'],
    defaultOn: true,
    create: () => one('better-sqlite3', 'BetterSqlite3Instrumentation', {}),
  },
  {
    name: 'amqplib',
    triggers: ['amqplib'],
    esm: ['amqplib'],
    defaultOn: true,
    // Upstream emits the pre-1.20 messaging attribute names. The hooks add the
    // current names beside them (queries on either keep working), take the
    // connection user out of messaging.url (upstream only masks the password),
    // and name consumer spans "process <queue>", the same shape as "publish <exchange>".
    create: () => {
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
      return one('amqplib', 'AmqplibInstrumentation', {
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
      });
    },
  },
  {
    name: 'pino',
    triggers: ['pino'],
    esm: ['pino'],
    defaultOn: true,
    create: ({ cfg }) => (cfg.agent.logCorrelation.includes('pino') ? one('pino', 'PinoInstrumentation', { disableLogSending: cfg.logsExporters.length === 0 }) : []),
  },
  {
    name: 'winston',
    triggers: ['winston'],
    esm: ['winston'],
    defaultOn: true,
    create: ({ cfg }) =>
      cfg.agent.logCorrelation.includes('winston') ? one('winston', 'WinstonInstrumentation', { disableLogSending: cfg.logsExporters.length === 0 }) : [],
  },
  {
    name: 'bunyan',
    triggers: ['bunyan'],
    esm: ['bunyan'],
    defaultOn: true,
    create: ({ cfg }) =>
      cfg.agent.logCorrelation.includes('bunyan') ? one('bunyan', 'BunyanInstrumentation', { disableLogSending: cfg.logsExporters.length === 0 }) : [],
  },
];

export function enabledEntries(cfg: AgentConfig): Entry[] {
  const on = cfg.enabledInstrumentations;
  const off = new Set(cfg.disabledInstrumentations);
  return ENTRIES.filter((e) => (on ? on.includes(e.name) : e.defaultOn) && !off.has(e.name));
}
