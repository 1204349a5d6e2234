/**
 * What the node-redis and ioredis shaping share: statements with the command
 * and key but never the value, error codes from Redis replies, and the one
 * span a MULTI or pipeline makes.
 */
import { SpanKind, SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import {
  ATTR_DB_OPERATION_BATCH_SIZE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import type { Hooks } from './shaper';
import { errorName, exceptionEvent, finishError } from './errors';
import { quietly } from './layer';

// ---------------------------------------------------------------------------------------------
// Redis statements: command and key, never the value
// ---------------------------------------------------------------------------------------------

/** Commands whose arguments are not keys (passwords, scripts, messages, numbers): all masked. */
const REDIS_KEYLESS = new Set([
  'AUTH',
  'HELLO',
  'PING',
  'ECHO',
  'SELECT',
  'QUIT',
  'MIGRATE',
  'EVAL',
  'EVALSHA',
  'EVAL_RO',
  'EVALSHA_RO',
  'FCALL',
  'FCALL_RO',
  'SWAPDB',
  'FAILOVER',
  'REPLICAOF',
  'SLAVEOF',
  'SHUTDOWN',
  'WAIT',
  'WAITAOF',
  'INFO',
  'DBSIZE',
  'FLUSHALL',
  'FLUSHDB',
  'TIME',
  'LASTSAVE',
  'SAVE',
  'BGSAVE',
  'BGREWRITEAOF',
  'RANDOMKEY',
  'MULTI',
  'EXEC',
  'DISCARD',
  'UNWATCH',
  'ROLE',
  'READONLY',
  'READWRITE',
  'RESET',
  'MONITOR',
  'SCAN',
  'LOLWUT',
  'SYNC',
  'PSYNC',
]);
/** Container commands: the subcommand is shown, its arguments masked (CONFIG SET requirepass ...). */
const REDIS_SUBCOMMAND = new Set([
  'CONFIG',
  'CLIENT',
  'ACL',
  'CLUSTER',
  'COMMAND',
  'FUNCTION',
  'MEMORY',
  'OBJECT',
  'SCRIPT',
  'XINFO',
  'XGROUP',
  'PUBSUB',
  'MODULE',
  'LATENCY',
  'SLOWLOG',
  'DEBUG',
]);
/** Every argument is a key (or channel / pattern). */
const REDIS_ALL_KEYS = new Set([
  'DEL',
  'UNLINK',
  'EXISTS',
  'TOUCH',
  'MGET',
  'WATCH',
  'SUNION',
  'SINTER',
  'SDIFF',
  'SUNIONSTORE',
  'SINTERSTORE',
  'SDIFFSTORE',
  'PFCOUNT',
  'PFMERGE',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'PSUBSCRIBE',
  'PUNSUBSCRIBE',
  'SSUBSCRIBE',
  'SUNSUBSCRIBE',
  'RENAME',
  'RENAMENX',
  'KEYS',
]);
/** key value key value ... */
const REDIS_PAIRS = new Set(['MSET', 'MSETNX']);
const REDIS_MAX_ARGS = 10;

function redisArg(a: unknown): string {
  if (typeof a === 'string') return a.length > 128 ? `${a.slice(0, 128)}…` : a;
  if (typeof a === 'number' || typeof a === 'bigint') return String(a);
  if (a instanceof Uint8Array) {
    const s = Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('utf8');
    // eslint-disable-next-line no-control-regex
    return /^[^\u0000-\u001f\ufffd]*$/.test(s) ? redisArg(s) : '?';
  }
  return '?';
}

/** `SET user:1 ?`, `HSET user:1 ? ?`, `MGET a b`, `CONFIG SET ? ?`, `AUTH ?`. */
export function redisStatement(command: string, args: readonly unknown[] = []): string {
  const cmd = String(command).toUpperCase();
  const shown = (i: number): boolean => {
    if (REDIS_KEYLESS.has(cmd)) return false;
    if (REDIS_SUBCOMMAND.has(cmd)) return i === 0 && typeof args[0] === 'string' && /^[A-Za-z-]+$/.test(args[0]);
    if (REDIS_ALL_KEYS.has(cmd)) return true;
    if (REDIS_PAIRS.has(cmd)) return i % 2 === 0;
    return i === 0;
  };
  const parts = [cmd];
  const n = Math.min(args.length, REDIS_MAX_ARGS);
  for (let i = 0; i < n; i++) parts.push(shown(i) ? redisArg(args[i]) : '?');
  if (args.length > n) parts.push(`…(${args.length - n} more)`);
  return parts.join(' ');
}

/** Redis error replies start with an upper-case code: WRONGTYPE, ERR, NOSCRIPT, MOVED, ... */
export function redisCode(message: unknown): string | undefined {
  const m = /^([A-Z][A-Z_]+) /.exec(typeof message === 'string' ? message : '');
  return m ? m[1] : undefined;
}

export const BATCH_OPERATION = /^(MULTI|PIPELINE)( |$)/;

export const finishRedis: Hooks['end'] = (span, st) => {
  const op = st.attributes[ATTR_DB_OPERATION_NAME];
  if (typeof op === 'string' && !BATCH_OPERATION.test(op)) {
    // Upstream names them `redis-SET` (node-redis) or `set` (ioredis); one spelling for both clients.
    const up = op.toUpperCase();
    if (up !== op) span.setAttribute(ATTR_DB_OPERATION_NAME, up);
    span.updateName(up);
  }
  finishError(span, st, redisCode(exceptionEvent(st)?.['exception.message'] ?? st.status.message));
};

const BATCH_TEXT_MAX = 20;

const CLIENT = { kind: SpanKind.CLIENT };

/**
 * A span for a whole MULTI / pipeline: `MULTI SET` when every command is SET, else `MULTI`.
 * It starts as `MULTI` / `PIPELINE`; the commands' statements are read (`commands()`) only
 * when it is recording.
 */
export function startBatchSpan(
  tracer: Tracer,
  kind: 'MULTI' | 'PIPELINE',
  commands: () => { name: string; text: string }[],
  server: { host?: unknown; port?: unknown },
): Span {
  const span = tracer.startSpan(kind, CLIENT);
  if (!span.isRecording()) return span;
  const list = commands();
  const names = new Set(list.map((c) => c.name));
  const op = names.size === 1 ? `${kind} ${[...names][0]}` : kind;
  const texts = list.map((c) => c.text);
  const unique = new Set(texts);
  const text =
    unique.size === 1
      ? texts[0]!
      : texts.slice(0, BATCH_TEXT_MAX).join('; ') + (texts.length > BATCH_TEXT_MAX ? `; …(${texts.length - BATCH_TEXT_MAX} more)` : '');
  const attributes: Attributes = { [ATTR_DB_SYSTEM_NAME]: 'redis', [ATTR_DB_OPERATION_NAME]: op };
  if (text) attributes[ATTR_DB_QUERY_TEXT] = text;
  // Semantic conventions: a batch of one is reported as a single operation, without a batch size.
  if (list.length !== 1) attributes[ATTR_DB_OPERATION_BATCH_SIZE] = list.length;
  if (typeof server.host === 'string') attributes[ATTR_SERVER_ADDRESS] = server.host;
  if (typeof server.port === 'number') attributes[ATTR_SERVER_PORT] = server.port;
  span.updateName(op);
  span.setAttributes(attributes);
  return span;
}

/** The attributes of one recording command span (its name is set to the upper-case command). */
export function annotateCommand(span: Span, command: string, args: readonly unknown[], server: { host?: unknown; port?: unknown } | undefined): void {
  const op = command.toUpperCase();
  span.updateName(op);
  const a: Attributes = { [ATTR_DB_SYSTEM_NAME]: 'redis', [ATTR_DB_OPERATION_NAME]: op, [ATTR_DB_QUERY_TEXT]: redisStatement(command, args) };
  if (typeof server?.host === 'string') a[ATTR_SERVER_ADDRESS] = server.host;
  if (typeof server?.port === 'number') a[ATTR_SERVER_PORT] = server.port;
  span.setAttributes(a);
}

export function endBatchSpan(span: Span, err: unknown): void {
  quietly(() => {
    if (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    }
    span.end();
  });
}

/**
 * A db.client.operation.duration point's attributes: `op` is the command in
 * upper case, or `MULTI` / `PIPELINE` for a batch (what the conventions name
 * a Redis batch; the span's `MULTI SET` is not repeated here). error.type is
 * the reply's code (`WRONGTYPE`), as on the span, else the error's code or
 * class.
 */
export function redisDurationAttributes(op: string, server: { host?: unknown; port?: unknown } | undefined, err: unknown): Attributes {
  const a: Attributes = { [ATTR_DB_SYSTEM_NAME]: 'redis', [ATTR_DB_OPERATION_NAME]: op };
  if (typeof server?.host === 'string') a[ATTR_SERVER_ADDRESS] = server.host;
  if (typeof server?.port === 'number') a[ATTR_SERVER_PORT] = server.port;
  if (err) a[ATTR_ERROR_TYPE] = redisCode((err as { message?: unknown }).message) ?? errorName(err) ?? '_OTHER';
  return a;
}

/** A pipeline resolves with [err, result] pairs (MULTI: the EXEC entry holds the replies). */
export function firstPipelineError(results: unknown): unknown {
  if (!Array.isArray(results)) return undefined;
  for (const r of results) {
    if (!Array.isArray(r)) continue;
    if (r[0]) return r[0];
    if (Array.isArray(r[1])) {
      const inner = (r[1] as unknown[]).find((x) => x instanceof Error);
      if (inner) return inner;
    }
  }
  return undefined;
}
