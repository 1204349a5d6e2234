/**
 * ioredis: commands named by their upper-case name with the key but never the
 * value, one span per MULTI or pipeline, none for the connection handshake or
 * for a command that waited in the offline queue.
 */
import { context, trace, type Span } from '@opentelemetry/api';
import { InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile, type Instrumentation } from '@opentelemetry/instrumentation';
import { ATTR_DB_QUERY_TEXT } from '@opentelemetry/semantic-conventions';
import { Layer, exportsOf, quietly, shapeWith, type AnyFn } from '../db/layer';
import { endBatchSpan, finishRedis, firstPipelineError, redisStatement, startBatchSpan } from '../db/redis';

const SEEN = Symbol('@x/otel-agent/ioredis-seen');
const BATCH_SPAN = Symbol('@x/otel-agent/ioredis-batch');
/** What ioredis sends by itself while a connection is being set up. */
const IOREDIS_HANDSHAKE = new Set(['auth', 'hello', 'select', 'client', 'info', 'readonly']);

interface IORedisCommand {
  name?: unknown;
  args?: unknown[];
  [SEEN]?: boolean;
}

/**
 * ioredis (5 and 6), outside the upstream wrapper: no spans for the
 * connection handshake (HELLO, AUTH, SELECT, CLIENT SETNAME / SETINFO, the
 * INFO ready check), none for what ioredis sends by itself once ready (the
 * offline-queue and reconnect replays, whose spans started when the app issued
 * them, and the SELECT that restores the app's database after a reconnect),
 * and one span per MULTI / pipeline.
 */
class IORedisBatch extends Layer {
  protected init() {
    const versions = ['>=5.0.0 <7'];
    const layer = this;
    const patchMain = (m: unknown): unknown => {
      const proto = exportsOf<{ prototype?: object }>(m).prototype;
      this.wrapMethod(
        proto,
        'sendCommand',
        (original) =>
          function sendCommand(this: unknown, ...args: unknown[]) {
            const cmd = args[0] as IORedisCommand | undefined;
            if (!cmd || typeof cmd !== 'object') return original.apply(this, args);
            const again = cmd[SEEN] === true;
            cmd[SEEN] = true;
            const handshake = (this as { status?: string }).status === 'connect' && IOREDIS_HANDSHAKE.has(String(cmd.name).toLowerCase());
            return again || handshake ? layer.shaper.withoutSpans(() => original.apply(this, args)) : original.apply(this, args);
          },
      );
      return m;
    };
    const unpatchMain = (m: unknown): void => this.unwrapMethod(m ? exportsOf<{ prototype?: object }>(m).prototype : undefined, 'sendCommand');
    const patchPipeline = (m: unknown): unknown => {
      const proto = (m as { default?: { prototype?: object } }).default?.prototype;
      this.wrapMethod(
        proto,
        'exec',
        (original) =>
          function exec(this: unknown, ...args: unknown[]) {
            const self = this as {
              _queue?: IORedisCommand[];
              [BATCH_SPAN]?: Span;
              redis?: { options?: { host?: unknown; port?: unknown } };
            };
            // MULTI calls exec twice (once to queue EXEC, once to send), retries call it again:
            // one span per pipeline, and the commands sent by any of those calls belong to it.
            const open = self[BATCH_SPAN];
            if (open) return context.with(layer.shaper.skipContext(trace.setSpan(context.active(), open)), () => original.apply(this, args));
            // Like single commands (see upstreamConfig), only inside a traced operation.
            if (layer.shaper.skipping(context.active()) || !trace.getSpan(context.active())) return original.apply(this, args);
            const parent = context.active();
            const span = quietly(() => {
              const queue = Array.isArray(self._queue) ? self._queue : [];
              const isMulti = String(queue[0]?.name).toLowerCase() === 'multi';
              const commands = queue
                .filter((c) => !['multi', 'exec'].includes(String(c.name).toLowerCase()))
                .map((c) => ({ name: String(c.name).toUpperCase(), text: redisStatement(String(c.name), c.args ?? []) }));
              return startBatchSpan(layer.tracer, isMulti ? 'MULTI' : 'PIPELINE', commands, self.redis?.options ?? {});
            });
            if (!span) return original.apply(this, args);
            self[BATCH_SPAN] = span;
            // ioredis calls the callback from inside its own promise chain: keep it in the app's context.
            if (typeof args[0] === 'function') args[0] = context.bind(parent, args[0] as AnyFn);
            let p: unknown;
            try {
              p = context.with(layer.shaper.skipContext(trace.setSpan(parent, span)), () => original.apply(this, args));
            } catch (e) {
              endBatchSpan(span, e);
              throw e;
            }
            if (p && typeof (p as Promise<unknown>).then === 'function') {
              (p as Promise<unknown>).then(
                (results) => endBatchSpan(span, firstPipelineError(results)),
                (e: unknown) => endBatchSpan(span, e),
              );
            } else endBatchSpan(span, undefined);
            // ioredis documents that exec must return its own promise (a different one would leak rejections).
            return p;
          },
      );
      return m;
    };
    const unpatchPipeline = (m: unknown): void => this.unwrapMethod((m as { default?: { prototype?: object } } | undefined)?.default?.prototype, 'exec');
    // readyHandler(self) returns the function ioredis runs when a connection becomes ready; everything it sends
    // synchronously (replays, the re-SELECT, MONITOR) is ioredis' own. ioredis calls it through the exports object.
    const patchEvents = (m: unknown): unknown => {
      this.wrapMethod(
        m as object,
        'readyHandler',
        (original) =>
          function readyHandler(this: unknown, ...args: unknown[]) {
            const handler = original.apply(this, args);
            if (typeof handler !== 'function') return handler;
            return function ready(this: unknown, ...a: unknown[]) {
              return layer.shaper.withoutSpans(() => (handler as AnyFn).apply(this, a));
            };
          },
      );
      return m;
    };
    const unpatchEvents = (m: unknown): void => this.unwrapMethod(m as object | undefined, 'readyHandler');
    return [
      new InstrumentationNodeModuleDefinition('ioredis', versions, patchMain, unpatchMain, [
        new InstrumentationNodeModuleFile('ioredis/built/Pipeline.js', versions, patchPipeline, unpatchPipeline),
        new InstrumentationNodeModuleFile('ioredis/built/redis/event_handler.js', versions, patchEvents, unpatchEvents),
      ]),
    ];
  }
}

export function shape(make: (config: Record<string, unknown>) => Instrumentation[]): Instrumentation[] {
  return shapeWith(
    {
      // Upstream's `connect` span measures nothing (it ends when connect() returns its promise).
      start: (name, a) => !(name === 'connect' && a[ATTR_DB_QUERY_TEXT] === 'connect'),
      end: finishRedis,
    },
    // Only inside a traced operation (a request, a job, a consumed message): ioredis is the
    // client under BullMQ and similar libraries, which poll Redis in the background, and a
    // root span per poll would bury everything else.
    { requireParentSpan: true, dbStatementSerializer: redisStatement },
    make,
    [],
    [(s) => new IORedisBatch('ioredis-batch', s)],
  );
}
