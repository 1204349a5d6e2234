/**
 * Every instrumentation the agent knows, one definition per folder. The env
 * validation (src/env.ts), the build (scripts/build.mjs bundles this file and
 * reads it), the doctor and the docs table (scripts/instrumentations-table.mjs)
 * all derive from this list; test/core/registry.unit.test.ts checks they agree.
 *
 * Order matters only for listings (docs, doctor, startup line).
 */
import type { Definition } from './definition';
import { http } from './http/definition';
import { http2 } from './http2/definition';
import { undici } from './undici/definition';
import { express } from './express/definition';
import { grpc } from './grpc/definition';
import { fs } from './fs/definition';
import { awsSdk } from './aws-sdk/definition';
import { kafkajs } from './kafkajs/definition';
import { pg } from './pg/definition';
import { mysql2 } from './mysql2/definition';
import { redis } from './redis/definition';
import { ioredis } from './ioredis/definition';
import { bullmq } from './bullmq/definition';
import { mongodb } from './mongodb/definition';
import { sqlite } from './sqlite/definition';
import { betterSqlite3 } from './better-sqlite3/definition';
import { amqplib } from './amqplib/definition';
import { nats } from './nats/definition';
import { mqtt } from './mqtt/definition';
import { pino } from './pino/definition';
import { winston } from './winston/definition';
import { bunyan } from './bunyan/definition';
import { queueHooks } from './queue-hooks/definition';
import { fastify } from './fastify/definition';
import { koa } from './koa/definition';
import { hapi } from './hapi/definition';
import { graphql } from './graphql/definition';
import { nestjs } from './nestjs/definition';
import { nextjs } from './nextjs/definition';
import { childProcess } from './child-process/definition';
import { workerThreads } from './worker-threads/definition';

export const DEFINITIONS: readonly Definition[] = [
  http,
  express,
  http2,
  undici,
  grpc,
  fastify,
  koa,
  hapi,
  fs,
  awsSdk,
  kafkajs,
  pg,
  mysql2,
  redis,
  ioredis,
  bullmq,
  mongodb,
  sqlite,
  betterSqlite3,
  amqplib,
  nats,
  mqtt,
  pino,
  winston,
  bunyan,
  graphql,
  nestjs,
  nextjs,
  queueHooks,
  childProcess,
  workerThreads,
];

/** The names OTEL_NODE_ENABLED_INSTRUMENTATIONS / OTEL_NODE_DISABLED_INSTRUMENTATIONS accept. */
export const INSTRUMENTATION_NAMES: readonly string[] = DEFINITIONS.map((d) => d.name);
