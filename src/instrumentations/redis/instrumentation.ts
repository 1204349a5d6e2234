/**
 * node-redis (`redis` 4, 5 and 6 through `@redis/client` 1.x, 5.x and 6.x): own
 * instrumentation (it replaced @opentelemetry/instrumentation-redis, which
 * serialized the statement, built every attribute and ran each command inside a
 * context of its span, for every command whether sampled or not).
 *
 * One CLIENT span per command, traced whether or not a span is active (a worker's or
 * a migration script's commands are real work), one per MULTI / pipeline (the commands
 * queued on it make none), and `redis-connect` for connect(). An unsampled command
 * costs one sampling decision; only a recording span gets its name (`SET`), its
 * attributes (the key but never the value, db/redis.ts) and the promise handlers
 * that end it. Nothing reads the context inside a command, so none is entered.
 *
 * With metrics on, db.client.operation.duration: one point per command and one per
 * MULTI / pipeline (`MULTI`, `PIPELINE`; its commands make none), sampled or not. What an
 * unrecorded command costs for it is a clock read, a handler on its promise and the point.
 */
import { context, createContextKey, trace, SpanKind } from '@opentelemetry/api';
import { InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile } from '@opentelemetry/instrumentation';
import { ATTR_DB_SYSTEM_NAME, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import { RedisBase, type AnyFn, type RedisConfig } from '../db/redis-base';
import { quietly } from '../db/layer';
import { annotateCommand, endBatchSpan, redisDurationAttributes, redisStatement, startBatchSpan } from '../db/redis';
import { DbDuration } from '../db/metrics';

const CMDS = Symbol('@x/otel-agent/redis-batch-commands');
const CLIENT_OPTIONS = Symbol('@x/otel-agent/redis-client-options');
const IN_EXEC = Symbol('@x/otel-agent/redis-in-exec');
/** Same key as @opentelemetry/core's suppressTracing() (createContextKey is Symbol.for). */
const SUPPRESS = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
const CLIENT = { kind: SpanKind.CLIENT };
export const VERSIONS = ['>=1.0.0 <2', '>=5.0.0 <7'];

interface ClientOptions {
  socket?: { host?: unknown; port?: unknown };
}
interface Client {
  options?: ClientOptions;
}
type Transform = (command: unknown, args: unknown[]) => { args: unknown[] };

/**
 * node-redis 4 calls a command's executor with the method's name (`hSet`, `get`): the
 * command's own name is the first of its transformed arguments, the same for every call of
 * one command, so it is worked out once per command (for the duration point of an unrecorded
 * call, without transforming its arguments a second time).
 */
const V4_NAMES = new WeakMap<object, string>();
function v4Name(command: unknown, args: unknown[], fallback: string, transform: Transform): string {
  if (typeof command !== 'object' || command === null) return fallback;
  let n = V4_NAMES.get(command);
  if (n === undefined) {
    n = (quietly(() => String(transform(command, args).args[0])) ?? fallback).toUpperCase();
    V4_NAMES.set(command, n);
  }
  return n;
}

const protoOf = (m: unknown): object | undefined => (m as { default?: { prototype?: object } } | undefined)?.default?.prototype;

export class RedisInstrumentation extends RedisBase {
  constructor(config: RedisConfig = {}) {
    super('redis', config);
  }

  protected init() {
    const inst = this;
    // @redis/client 5 and 6 (and client.sendCommand() in 1.x): every command goes through sendCommand(args).
    const patchClient = (m: unknown): unknown => {
      const proto = protoOf(m);
      this.wrapMethod(
        proto,
        'sendCommand',
        (original) =>
          function sendCommand(this: Client, args: unknown) {
            if (!Array.isArray(args) || typeof args[0] !== 'string' || !inst.isEnabled()) return original.apply(this, arguments as unknown as unknown[]);
            const op = args[0] as string;
            return inst.command(
              this,
              original,
              arguments,
              op,
              () => args,
              () => op,
            );
          },
      );
      this.wrapMethod(
        proto,
        'connect',
        (original) =>
          function connect(this: Client) {
            return inst.connect(this, original, arguments);
          },
      );
      // The client's multi()/MULTI(): remember the server address for the batch span.
      for (const method of ['multi', 'MULTI']) {
        this.wrapMethod(
          proto,
          method,
          (original) =>
            function multi(this: Client, ...args: unknown[]) {
              const res = original.apply(this, args);
              if (res && typeof res === 'object') (res as Record<symbol, unknown>)[CLIENT_OPTIONS] = this.options;
              return res;
            },
        );
      }
      return m;
    };
    const unpatchClient = (m: unknown): void => {
      for (const method of ['sendCommand', 'connect', 'multi', 'MULTI']) this.unwrapMethod(protoOf(m), method);
    };
    // @redis/client 1.x: client.get() and the like run the executor given to attachCommands, which
    // sends through a private method; the executor is wrapped as the client module attaches it.
    const patchCommander = (m: unknown): unknown => {
      const exp = m as { transformCommandArguments?: Transform };
      const transform = exp.transformCommandArguments;
      if (typeof transform !== 'function') return m;
      // 1.0.x names it extendWithCommands, later 1.x attachCommands; both take { BaseClass, commands, executor }.
      for (const fn of ['attachCommands', 'extendWithCommands'])
        this.wrapMethod(
          m as object,
          fn,
          (original) =>
            function attachCommands(this: unknown, config: { BaseClass?: { name?: string }; executor?: AnyFn }) {
              const executor = config?.executor;
              if (config?.BaseClass?.name !== 'RedisClient' || typeof executor !== 'function') return original.apply(this, arguments as unknown as unknown[]);
              const traced = function (this: Client, command: unknown, args: unknown[], name: unknown) {
                if (!inst.isEnabled()) return executor.apply(this, arguments as unknown as unknown[]);
                const n = typeof name === 'string' ? name : 'redis';
                return inst.command(
                  this,
                  executor,
                  arguments,
                  n,
                  () => transform(command, args).args,
                  () => v4Name(command, args, n, transform),
                );
              };
              return original.call(this, { ...config, executor: traced });
            },
        );
      return m;
    };
    const patchMulti = (m: unknown): unknown => {
      const proto = protoOf(m);
      this.wrapMethod(
        proto,
        'addCommand',
        (original) =>
          function addCommand(this: { [CMDS]?: unknown[][] }, ...args: unknown[]) {
            if (Array.isArray(args[0])) (this[CMDS] ??= []).push(args[0] as unknown[]);
            return original.apply(this, args);
          },
      );
      for (const method of ['exec', 'execAsPipeline'] as const) {
        this.wrapMethod(
          proto,
          method,
          (original) =>
            function exec(this: Multi) {
              return inst.exec(this, original, arguments, method);
            },
        );
      }
      return m;
    };
    const unpatchMulti = (m: unknown): void => {
      for (const method of ['addCommand', 'exec', 'execAsPipeline']) this.unwrapMethod(protoOf(m), method);
    };
    return [
      // `redis` 4+ only re-exports @redis/client, where the patches are; listing it closes its range
      // (redis 2 and 3, their own client, are outside it: one debug line says so, nothing is patched).
      new InstrumentationNodeModuleDefinition('redis', ['>=4.0.0 <7'], (m: unknown) => m, undefined),
      new InstrumentationNodeModuleDefinition('@redis/client', VERSIONS, undefined, undefined, [
        new InstrumentationNodeModuleFile('@redis/client/dist/lib/commander.js', ['>=1.0.0 <2'], patchCommander, (m: unknown) =>
          ['attachCommands', 'extendWithCommands'].forEach((fn) => this.unwrapMethod(m as object | undefined, fn)),
        ),
        new InstrumentationNodeModuleFile('@redis/client/dist/lib/client/multi-command.js', VERSIONS, patchMulti, unpatchMulti),
        new InstrumentationNodeModuleFile('@redis/client/dist/lib/client/index.js', VERSIONS, patchClient, unpatchClient),
      ]),
    ];
  }

  /**
   * One command: a span only when it is recorded; `redisArgs()` ([name, ...args]) is read only
   * then. With metrics on, every command is one db.client.operation.duration point, named by
   * `opName()` (cheap: the name as sent, or node-redis 4's cached per command) when no span is.
   */
  private command(client: Client, original: AnyFn, args: IArguments, name: string, redisArgs: () => unknown[], opName: () => string): unknown {
    const parent = context.active();
    // Inside a batch's exec: the batch is the operation.
    if (this.shaper.skipping(parent)) return original.apply(client, args as unknown as unknown[]);
    const d = this.duration;
    const t0 = d === undefined ? 0 : DbDuration.start();
    const span = parent.getValue(SUPPRESS) === true ? undefined : this.tracer.startSpan(name, CLIENT, parent);
    const recording = span !== undefined && span.isRecording();
    if (!recording && d === undefined) return original.apply(client, args as unknown as unknown[]);
    let op: string | undefined;
    if (recording) {
      quietly(() => {
        const a = redisArgs();
        op = String(a[0] ?? name);
        annotateCommand(span, op, a.slice(1), client.options?.socket);
      });
    }
    const end = (err: unknown): void => {
      if (recording) endBatchSpan(span, err);
      if (d !== undefined) quietly(() => d.record(t0, redisDurationAttributes((op ?? opName()).toUpperCase(), client.options?.socket, err), parent));
    };
    let res: unknown;
    try {
      res = original.apply(client, args as unknown as unknown[]);
    } catch (e) {
      end(e);
      throw e;
    }
    if (res && typeof (res as Promise<unknown>).then === 'function') {
      (res as Promise<unknown>).then(
        () => end(undefined),
        (e: unknown) => end(e),
      );
    } else end(undefined);
    return res;
  }

  /** connect(): a `redis-connect` span, in whose context the connection's own commands run. */
  private connect(client: Client, original: AnyFn, args: IArguments): unknown {
    if (!this.isEnabled()) return original.apply(client, args as unknown as unknown[]);
    const parent = context.active();
    const span = quietly(() => {
      const socket = client.options?.socket;
      const attributes: Record<string, unknown> = { [ATTR_DB_SYSTEM_NAME]: 'redis' };
      if (typeof socket?.host === 'string') attributes[ATTR_SERVER_ADDRESS] = socket.host;
      if (typeof socket?.port === 'number') attributes[ATTR_SERVER_PORT] = socket.port;
      return this.tracer.startSpan('redis-connect', { kind: SpanKind.CLIENT, attributes: attributes as Record<string, string | number> }, parent);
    });
    if (!span) return original.apply(client, args as unknown as unknown[]);
    const res = context.with(trace.setSpan(parent, span), () => original.apply(client, args as unknown as unknown[]));
    if (res && typeof (res as Promise<unknown>).then === 'function') {
      (res as Promise<unknown>).then(
        () => endBatchSpan(span, undefined),
        (e: unknown) => endBatchSpan(span, e),
      );
    } else endBatchSpan(span, undefined);
    return res;
  }

  /**
   * exec / execAsPipeline: one span for the batch, and one duration point (`MULTI` or
   * `PIPELINE`); exec(true) delegates to execAsPipeline, one of each for the pair.
   */
  private exec(self: Multi, original: AnyFn, args: IArguments, method: 'exec' | 'execAsPipeline'): unknown {
    if (self[IN_EXEC] || !this.isEnabled()) return original.apply(self, args as unknown as unknown[]);
    const queued = self[CMDS] ?? [];
    self[CMDS] = [];
    const parent = context.active();
    if (this.shaper.skipping(parent)) return original.apply(self, args as unknown as unknown[]);
    const kind = method === 'execAsPipeline' || args[0] === true ? 'PIPELINE' : 'MULTI';
    const d = this.duration;
    const t0 = d === undefined ? 0 : DbDuration.start();
    const span =
      parent.getValue(SUPPRESS) === true
        ? undefined
        : quietly(() =>
            startBatchSpan(
              this.tracer,
              kind,
              () => queued.map((a) => ({ name: String(a[0]).toUpperCase(), text: redisStatement(String(a[0]), a.slice(1)) })),
              self[CLIENT_OPTIONS]?.socket ?? {},
            ),
          );
    if (!span && d === undefined) return original.apply(self, args as unknown as unknown[]);
    const recording = span !== undefined && span.isRecording();
    const end = (err: unknown): void => {
      if (recording) endBatchSpan(span, err);
      if (d !== undefined) quietly(() => d.record(t0, redisDurationAttributes(kind, self[CLIENT_OPTIONS]?.socket, err), parent));
    };
    self[IN_EXEC] = true;
    let p: unknown;
    try {
      p = recording
        ? context.with(this.shaper.skipContext(trace.setSpan(parent, span)), () => original.apply(self, args as unknown as unknown[]))
        : original.apply(self, args as unknown as unknown[]);
    } catch (e) {
      if (recording || d !== undefined) end(e);
      throw e;
    } finally {
      self[IN_EXEC] = false;
    }
    if (!recording && d === undefined) return p;
    if (p && typeof (p as Promise<unknown>).then === 'function') {
      (p as Promise<unknown>).then(
        () => end(undefined),
        (e: unknown) => end(e),
      );
    } else end(undefined);
    return p;
  }
}

interface Multi {
  [CMDS]?: unknown[][];
  [CLIENT_OPTIONS]?: ClientOptions;
  [IN_EXEC]?: boolean;
}
