/**
 * node-redis: commands named by their upper-case name with the key but never
 * the value, and one span per MULTI or pipeline.
 */
import { context, trace } from '@opentelemetry/api';
import { InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile, type Instrumentation } from '@opentelemetry/instrumentation';
import { Layer, quietly, shapeWith } from '../db/layer';
import { endBatchSpan, finishRedis, redisStatement, startBatchSpan } from '../db/redis';

const CMDS = Symbol('@x/otel-agent/redis-batch-commands');
const CLIENT_OPTIONS = Symbol('@x/otel-agent/redis-client-options');
const IN_EXEC = Symbol('@x/otel-agent/redis-in-exec');

/**
 * node-redis (v4 `@redis/client` 1.x, v5 and v6 `@redis/client` 5.x / 6.x), outside the
 * upstream wrapper: commands queued on a MULTI make no span of their own; the
 * exec (or execAsPipeline) call makes one.
 */
class RedisBatch extends Layer {
  protected init() {
    const versions = ['>=1.0.0 <2', '>=5.0.0 <7'];
    const layer = this;
    const patchMulti = (m: unknown): unknown => {
      const proto = (m as { default?: { prototype?: object } }).default?.prototype;
      this.wrapMethod(
        proto,
        'addCommand',
        (original) =>
          function addCommand(this: unknown, ...args: unknown[]) {
            const self = this as { [CMDS]?: unknown[][] };
            if (Array.isArray(args[0])) (self[CMDS] ??= []).push(args[0] as unknown[]);
            return layer.shaper.withoutSpans(() => original.apply(this, args));
          },
      );
      for (const method of ['exec', 'execAsPipeline'] as const) {
        this.wrapMethod(
          proto,
          method,
          (original) =>
            function exec(this: unknown, ...args: unknown[]) {
              const self = this as { [CMDS]?: unknown[][]; [CLIENT_OPTIONS]?: { socket?: { host?: unknown; port?: unknown } }; [IN_EXEC]?: boolean };
              // exec(true) delegates to execAsPipeline: one span for the pair.
              if (self[IN_EXEC]) return original.apply(this, args);
              const parent = context.active();
              const span = quietly(() => {
                const commands = (self[CMDS] ?? []).map((a) => ({ name: String(a[0]).toUpperCase(), text: redisStatement(String(a[0]), a.slice(1)) }));
                self[CMDS] = [];
                const kind = method === 'execAsPipeline' || args[0] === true ? 'PIPELINE' : 'MULTI';
                return startBatchSpan(layer.tracer, kind, commands, self[CLIENT_OPTIONS]?.socket ?? {});
              });
              if (!span) return original.apply(this, args);
              self[IN_EXEC] = true;
              let p: unknown;
              try {
                p = context.with(layer.shaper.skipContext(trace.setSpan(parent, span)), () => original.apply(this, args));
              } catch (e) {
                endBatchSpan(span, e);
                throw e;
              } finally {
                self[IN_EXEC] = false;
              }
              if (p && typeof (p as Promise<unknown>).then === 'function') {
                (p as Promise<unknown>).then(
                  () => endBatchSpan(span, undefined),
                  (e: unknown) => endBatchSpan(span, e),
                );
              } else endBatchSpan(span, undefined);
              return p;
            },
        );
      }
      return m;
    };
    const unpatchMulti = (m: unknown): void => {
      const proto = (m as { default?: { prototype?: object } } | undefined)?.default?.prototype;
      for (const method of ['addCommand', 'exec', 'execAsPipeline']) this.unwrapMethod(proto, method);
    };
    // The client's multi()/MULTI(): remember the server address for the batch span.
    const patchClient = (m: unknown): unknown => {
      const proto = (m as { default?: { prototype?: object } }).default?.prototype;
      for (const method of ['multi', 'MULTI']) {
        this.wrapMethod(
          proto,
          method,
          (original) =>
            function multi(this: unknown, ...args: unknown[]) {
              const res = original.apply(this, args);
              if (res && typeof res === 'object') (res as Record<symbol, unknown>)[CLIENT_OPTIONS] = (this as { options?: unknown }).options;
              return res;
            },
        );
      }
      return m;
    };
    const unpatchClient = (m: unknown): void => {
      const proto = (m as { default?: { prototype?: object } } | undefined)?.default?.prototype;
      for (const method of ['multi', 'MULTI']) this.unwrapMethod(proto, method);
    };
    return [
      new InstrumentationNodeModuleDefinition('@redis/client', versions, undefined, undefined, [
        new InstrumentationNodeModuleFile('@redis/client/dist/lib/client/multi-command.js', versions, patchMulti, unpatchMulti),
        new InstrumentationNodeModuleFile('@redis/client/dist/lib/client/index.js', versions, patchClient, unpatchClient),
      ]),
    ];
  }
}

export function shape(make: (config: Record<string, unknown>) => Instrumentation[]): Instrumentation[] {
  // Traced whether or not a span is active: a worker's or a migration script's commands are real work.
  return shapeWith(
    { end: finishRedis },
    { requireParentSpan: false, dbStatementSerializer: redisStatement },
    make,
    [],
    [(s) => new RedisBatch('redis-batch', s)],
  );
}
