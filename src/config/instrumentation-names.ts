/**
 * Every instrumentation short name the agent knows, as OTEL_NODE_ENABLED_INSTRUMENTATIONS
 * and OTEL_NODE_DISABLED_INSTRUMENTATIONS accept them. A module of its own so the
 * configuration spec needs nothing from the instrumentations.
 */
export const INSTRUMENTATION_NAMES = [
  'http',
  'undici',
  'fs',
  'aws-sdk',
  'kafkajs',
  'pg',
  'mysql2',
  'redis',
  'ioredis',
  'mongodb',
  'amqplib',
  'sqlite',
  'better-sqlite3',
  'bullmq',
  'pino',
  'winston',
  'bunyan',
  'queue-hooks',
] as const;
