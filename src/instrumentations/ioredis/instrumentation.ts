/**
 * ioredis 5 and 6: own instrumentation (it replaced @opentelemetry/instrumentation-ioredis,
 * which built every attribute and the statement text, and wrapped each command's
 * resolve/reject, for every command whether sampled or not).
 *
 * A command makes a CLIENT span only inside a traced operation (a request, a job, a
 * consumed message): ioredis is the client under BullMQ and similar libraries, which
 * poll Redis in the background, and a root span per poll would bury everything else.
 * An unsampled command costs one sampling decision; only a recording span gets its
 * name (`SET`), attributes (the key but never the value, db/redis.ts) and the
 * resolve/reject hooks that end it. No span for the connection handshake, for what
 * ioredis sends by itself once ready (offline-queue and reconnect replays, the SELECT
 * that restores the app's database), nor for a command replayed from the offline
 * queue (its span started when the app issued it); one span per MULTI / pipeline.
 *
 * With metrics on, db.client.operation.duration for the same commands and batches (`MULTI`,
 * `PIPELINE`), sampled or not and inside a traced operation or not: a metric point buries
 * nothing, and a worker's Redis time is real. An unrecorded command costs a clock read, the
 * resolve/reject hooks and the point.
 */
import { context, createContextKey, trace, SpanKind, type Span } from '@opentelemetry/api';
import { InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile } from '@opentelemetry/instrumentation';
import { RedisBase, type AnyFn, type RedisConfig } from '../db/redis-base';
import { quietly } from '../db/layer';
import { annotateCommand, endBatchSpan, firstPipelineError, redisDurationAttributes, redisStatement, startBatchSpan } from '../db/redis';
import { DbDuration } from '../db/metrics';

const SEEN = Symbol('@x/otel-agent/ioredis-seen');
const BATCH_SPAN = Symbol('@x/otel-agent/ioredis-batch');
/** Same key as @opentelemetry/core's suppressTracing() (createContextKey is Symbol.for). */
const SUPPRESS = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
const CLIENT = { kind: SpanKind.CLIENT };
/** What ioredis sends by itself while a connection is being set up. */
const IOREDIS_HANDSHAKE = new Set(['auth', 'hello', 'select', 'client', 'info', 'readonly']);
export const VERSIONS = ['>=5.0.0 <7'];

interface IORedisCommand {
  name?: unknown;
  args?: unknown[];
  resolve?: (v: unknown) => unknown;
  reject?: (e: unknown) => unknown;
  [SEEN]?: boolean;
}
interface IORedisClient {
  status?: string;
  options?: { host?: unknown; port?: unknown };
}

const exportsOf = <T>(m: unknown): T => ((m as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === 'Module' ? (m as { default: T }).default : (m as T));

export class IORedisInstrumentation extends RedisBase {
  constructor(config: RedisConfig = {}) {
    super('ioredis', config);
  }

  protected init() {
    const inst = this;
    const patchMain = (m: unknown): unknown => {
      this.wrapMethod(
        exportsOf<{ prototype?: object }>(m).prototype,
        'sendCommand',
        (original) =>
          function sendCommand(this: IORedisClient, cmd: unknown) {
            if (cmd === null || typeof cmd !== 'object' || !inst.isEnabled()) return original.apply(this, arguments as unknown as unknown[]);
            const end = inst.observe(this, cmd as IORedisCommand);
            if (end === undefined) return original.apply(this, arguments as unknown as unknown[]);
            try {
              return original.apply(this, arguments as unknown as unknown[]);
            } catch (e) {
              end(e);
              throw e;
            }
          },
      );
      return m;
    };
    const unpatchMain = (m: unknown): void => this.unwrapMethod(m ? exportsOf<{ prototype?: object }>(m).prototype : undefined, 'sendCommand');
    const pipelineProto = (m: unknown): object | undefined => (m as { default?: { prototype?: object } } | undefined)?.default?.prototype;
    const patchPipeline = (m: unknown): unknown => {
      this.wrapMethod(
        pipelineProto(m),
        'exec',
        (original) =>
          function exec(this: unknown) {
            return inst.exec(this as Pipeline, original, arguments);
          },
      );
      return m;
    };
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
              return inst.shaper.withoutSpans(() => (handler as AnyFn).apply(this, a));
            };
          },
      );
      return m;
    };
    return [
      new InstrumentationNodeModuleDefinition('ioredis', VERSIONS, patchMain, unpatchMain, [
        new InstrumentationNodeModuleFile('ioredis/built/Pipeline.js', VERSIONS, patchPipeline, (m: unknown) => this.unwrapMethod(pipelineProto(m), 'exec')),
        new InstrumentationNodeModuleFile('ioredis/built/redis/event_handler.js', VERSIONS, patchEvents, (m: unknown) =>
          this.unwrapMethod(m as object | undefined, 'readyHandler'),
        ),
      ]),
    ];
  }

  /**
   * A command the app issued: its recording span (only inside a traced operation) and, with
   * metrics on, its duration point (wherever it was issued), both ended by resolve/reject;
   * the function that ends them, or undefined when there is nothing to record.
   */
  private observe(client: IORedisClient, cmd: IORedisCommand): ((err: unknown) => void) | undefined {
    // A replay from the offline queue: it was observed when the app issued it.
    if (cmd[SEEN] === true) return undefined;
    cmd[SEEN] = true;
    const parent = context.active();
    // Never inside a batch (the batch is the operation) or ioredis' own work.
    if (this.shaper.skipping(parent)) return undefined;
    if (client.status === 'connect' && IOREDIS_HANDSHAKE.has(String(cmd.name).toLowerCase())) return undefined;
    const d = this.duration;
    const t0 = d === undefined ? 0 : DbDuration.start();
    let span: Span | undefined;
    // Spans only inside a traced operation.
    if (trace.getSpan(parent) !== undefined && parent.getValue(SUPPRESS) !== true) {
      span = this.tracer.startSpan(String(cmd.name), CLIENT, parent);
      if (!span.isRecording()) span = undefined;
    }
    if (span === undefined && d === undefined) return undefined;
    const s = span;
    return quietly(() => {
      if (s) annotateCommand(s, String(cmd.name), Array.isArray(cmd.args) ? cmd.args : [], client.options);
      let done = false;
      const end = (err: unknown): void => {
        if (done) return;
        done = true;
        if (s) endBatchSpan(s, err);
        if (d !== undefined) quietly(() => d.record(t0, redisDurationAttributes(String(cmd.name).toUpperCase(), client.options, err), parent));
      };
      const resolve = cmd.resolve;
      const reject = cmd.reject;
      if (typeof resolve === 'function' && typeof reject === 'function') {
        cmd.resolve = function (this: unknown, v: unknown) {
          end(undefined);
          return resolve.call(this, v);
        };
        cmd.reject = function (this: unknown, e: unknown) {
          end(e);
          return reject.call(this, e);
        };
      }
      return end;
    });
  }

  /**
   * One span (inside a traced operation) and one duration point (`MULTI` or `PIPELINE`) per
   * pipeline or MULTI; the commands it sends make neither.
   */
  private exec(self: Pipeline, original: AnyFn, args: IArguments): unknown {
    // MULTI calls exec twice (once to queue EXEC, once to send), retries call it again:
    // one span per pipeline, and the commands sent by any of those calls belong to it.
    const open = self[BATCH_SPAN];
    if (open) {
      const ctx = this.shaper.skipContext(open === true ? context.active() : trace.setSpan(context.active(), open));
      return context.with(ctx, () => original.apply(self, args as unknown as unknown[]));
    }
    const parent = context.active();
    if (!this.isEnabled() || this.shaper.skipping(parent)) return original.apply(self, args as unknown as unknown[]);
    const d = this.duration;
    // Like single commands, spans only inside a traced operation.
    const traced = trace.getSpan(parent) !== undefined;
    if (!traced && d === undefined) return original.apply(self, args as unknown as unknown[]);
    const t0 = d === undefined ? 0 : DbDuration.start();
    const queue = Array.isArray(self._queue) ? self._queue : [];
    const kind = String(queue[0]?.name).toLowerCase() === 'multi' ? 'MULTI' : 'PIPELINE';
    const span = traced
      ? quietly(() =>
          startBatchSpan(
            this.tracer,
            kind,
            () =>
              queue
                .filter((c) => !['multi', 'exec'].includes(String(c.name).toLowerCase()))
                .map((c) => ({ name: String(c.name).toUpperCase(), text: redisStatement(String(c.name), c.args ?? []) })),
            self.redis?.options ?? {},
          ),
        )
      : undefined;
    if (!span && d === undefined) return original.apply(self, args as unknown as unknown[]);
    self[BATCH_SPAN] = span ?? true;
    const inner = this.shaper.skipContext(span ? trace.setSpan(parent, span) : parent);
    // ioredis calls the callback from inside its own promise chain: keep it in the app's context.
    const a = Array.prototype.slice.call(args) as unknown[];
    if (typeof a[0] === 'function') a[0] = context.bind(parent, a[0] as AnyFn);
    const recording = span !== undefined && span.isRecording();
    if (!recording && d === undefined) return context.with(inner, () => original.apply(self, a));
    let done = false;
    const end = (err: unknown): void => {
      if (done) return;
      done = true;
      if (recording) endBatchSpan(span, err);
      if (d !== undefined) quietly(() => d.record(t0, redisDurationAttributes(kind, self.redis?.options, err), parent));
    };
    let p: unknown;
    try {
      p = context.with(inner, () => original.apply(self, a));
    } catch (e) {
      end(e);
      throw e;
    }
    // The pipeline's own promise settles with the replies. exec() returns it, except the first of a
    // MULTI's two calls, which only queues EXEC and returns the pipeline itself.
    const settled = (self.promise ?? p) as Promise<unknown> | undefined;
    if (settled && typeof settled.then === 'function') {
      settled.then(
        (results) => end(firstPipelineError(results)),
        (e: unknown) => end(e),
      );
    } else end(undefined);
    // ioredis documents that exec must return its own promise (a different one would leak rejections).
    return p;
  }
}

interface Pipeline {
  _queue?: IORedisCommand[];
  promise?: unknown;
  /** The batch's span, or true when it has none (metrics only). */
  [BATCH_SPAN]?: Span | true;
  redis?: { options?: { host?: unknown; port?: unknown } };
}
