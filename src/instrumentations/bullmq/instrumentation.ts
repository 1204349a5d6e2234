/**
 * BullMQ, with no configuration: `Queue.add` / `Queue.addBulk` make a PRODUCER
 * span and carry its context in the job's options, and a Worker's processor
 * runs in a CONSUMER span whose parent is that context, in whatever process
 * the worker lives in.
 *
 * The context travels where BullMQ's own telemetry puts it:
 * `opts.telemetry.metadata`, a JSON string of propagation headers, which BullMQ
 * stores with the job (as `tm`) and hands back to the worker. So jobs added by
 * an app using BullMQ's own `bullmq-otel` integration continue in a worker
 * traced by this agent, and the other way round, and job data is not touched.
 * A Queue or Worker constructed with BullMQ's own `telemetry` option is left to
 * it, so nothing is traced twice.
 *
 * BullMQ's own bookkeeping (connecting, the worker's blocking poll, lock
 * renewal, stalled job checks, QueueEvents' stream reads, quitting) runs with
 * tracing suppressed: without that every poll would be a one-span Redis trace
 * of its own. Redis commands made while adding a job or inside a processor are
 * still traced, under the PRODUCER / CONSUMER span, and the app's event
 * listeners ('completed', 'failed', ...) run unsuppressed, as without the agent.
 *
 * With metrics on, every `add` / `addBulk` records
 * messaging.client.operation.duration and messaging.client.sent.messages (one
 * per job), and every processor run messaging.process.duration (with the
 * error's class as error.type when it throws) and
 * messaging.client.consumed.messages, sampled or not (messaging/metrics.ts).
 */
import {
  context,
  createContextKey,
  propagation,
  trace,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { InstrumentationBase, InstrumentationNodeModuleDefinition, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import type * as bullmq from 'bullmq';
import { AGENT_VERSION } from '../../version';
import { MessagingMetrics } from '../messaging/metrics';

// Incubating messaging names, copied rather than imported (see src/queue-hooks/wrap.ts).
const SYSTEM = 'messaging.system';
const OPERATION_TYPE = 'messaging.operation.type';
const OPERATION_NAME = 'messaging.operation.name';
const DESTINATION = 'messaging.destination.name';
const MESSAGE_ID = 'messaging.message.id';
const BATCH_COUNT = 'messaging.batch.message_count';
const JOB_NAME = 'messaging.bullmq.job.name';
const ATTEMPT = 'task.attempt';

/** The key @opentelemetry/core's suppressTracing() sets (createContextKey uses Symbol.for, so it is the same key). */
const SUPPRESS = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

export const SUPPORTED = ['>=5.0.0 <6'];

type JobsOptions = bullmq.JobsOptions & { telemetry?: { metadata?: string; omitContext?: boolean } };
interface QueueLike {
  name: string;
  opts?: { telemetry?: unknown };
}
interface JobLike {
  id?: string;
  name?: string;
  opts?: JobsOptions;
  attemptsMade?: number;
  attemptsStarted?: number;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (this: any, ...args: any[]) => unknown;
type Proto = Record<string, AnyFn>;

export interface BullMQConfig extends InstrumentationConfig {
  /** Record the messaging metrics: a metrics exporter is set. */
  metrics?: boolean;
}

const getter: TextMapGetter<Record<string, unknown>> = {
  keys: (c) => Object.keys(c),
  get: (c, k) => (typeof c[k] === 'string' ? (c[k] as string) : undefined),
};

function serialize(ctx: Context): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return Object.keys(carrier).length ? JSON.stringify(carrier) : undefined;
}

function deserialize(meta: unknown): Context {
  if (typeof meta !== 'string' || meta.length > 8192) return ROOT_CONTEXT;
  try {
    const c: unknown = JSON.parse(meta);
    if (c === null || typeof c !== 'object' || Array.isArray(c)) return ROOT_CONTEXT;
    return propagation.extract(ROOT_CONTEXT, c as Record<string, unknown>, getter);
  } catch {
    return ROOT_CONTEXT;
  }
}

function recordError(span: Span, e: unknown): void {
  const err = e instanceof Error ? e : undefined;
  span.recordException(err ?? String(e));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err ? err.message : String(e) });
  span.setAttribute('error.type', err ? (err.constructor?.name ?? err.name) : typeof e);
}

/** How an operation ended, for the metrics (called after the span has ended). */
type After = (failed: boolean, error: unknown) => void;

/** Ends the span when the (possibly async) result settles; the caller gets an equivalent promise, same value or same error. */
function finish<T>(span: Span, run: () => T, onOk?: (v: Awaited<T>) => void, after?: After): T {
  let r: T;
  try {
    r = run();
  } catch (e) {
    recordError(span, e);
    span.end();
    after?.(true, e);
    throw e;
  }
  if (r instanceof Promise) {
    return r.then(
      (v: Awaited<T>) => {
        try {
          onOk?.(v);
        } finally {
          span.end();
          after?.(false, undefined);
        }
        return v;
      },
      (e: unknown) => {
        recordError(span, e);
        span.end();
        after?.(true, e);
        throw e;
      },
    ) as T;
  }
  span.end();
  after?.(false, undefined);
  return r;
}

/** Adds our propagation metadata to a job's options, leaving the caller's object alone. */
function withMetadata(opts: JobsOptions | undefined, meta: string | undefined): JobsOptions | undefined {
  if (!meta) return opts;
  // A repeatable job's options are a template for every future run: one trace per run, not one forever.
  if (opts?.repeat || opts?.telemetry?.omitContext || opts?.telemetry?.metadata) return opts;
  return { ...opts, telemetry: { ...opts?.telemetry, metadata: meta } };
}

export class BullMQInstrumentation extends InstrumentationBase<BullMQConfig> {
  private metrics: MessagingMetrics | undefined;

  constructor(config: BullMQConfig = {}) {
    super('@x/otel-agent/bullmq', AGENT_VERSION, config);
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected override _updateMetricInstruments(): void {
    if (this.getConfig().metrics) this.metrics = new MessagingMetrics(this.meter);
  }

  /** The metrics' record of one add / addBulk of `jobs` jobs to `queue`; undefined when metrics are off. */
  private sent(queue: string, jobs: number, ctx: Context): After | undefined {
    const m = this.metrics;
    if (!m) return undefined;
    const t0 = MessagingMetrics.start();
    return (failed, e) => m.sent(t0, { [SYSTEM]: 'bullmq', [OPERATION_TYPE]: 'send', [OPERATION_NAME]: 'publish', [DESTINATION]: queue }, jobs, failed, e, ctx);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        'bullmq',
        SUPPORTED,
        (exports: typeof bullmq) => {
          this.patch(exports);
          return exports;
        },
        (exports: typeof bullmq) => {
          this.unpatch(exports);
        },
      ),
    ];
  }

  private patch(m: typeof bullmq): void {
    const queueProto = m.Queue?.prototype as unknown as Proto | undefined;
    const workerProto = m.Worker?.prototype as unknown as Proto | undefined;
    if (!queueProto || typeof queueProto.add !== 'function' || !workerProto || typeof workerProto.callProcessJob !== 'function') {
      this._diag.warn('bullmq: Queue.prototype.add or Worker.prototype.callProcessJob not found; this bullmq is not traced');
      return;
    }
    this._wrap(queueProto, 'add', (orig: AnyFn) => this.wrapAdd(orig));
    if (typeof queueProto.addBulk === 'function') this._wrap(queueProto, 'addBulk', (orig: AnyFn) => this.wrapAddBulk(orig));
    this._wrap(workerProto, 'callProcessJob', (orig: AnyFn) => this.wrapProcess(orig));
    if (typeof workerProto.run === 'function') this._wrap(workerProto, 'run', suppressed);
    // Listeners ('completed', 'failed', ...) are the app's code, called from inside the suppressed loop.
    if (typeof workerProto.emit === 'function') this._wrap(workerProto, 'emit', unsuppressed);
    const qeProto = m.QueueEvents?.prototype as unknown as Proto | undefined;
    if (qeProto && typeof qeProto.run === 'function') this._wrap(qeProto, 'run', suppressed);
    if (qeProto && typeof qeProto.emit === 'function') this._wrap(qeProto, 'emit', unsuppressed);
    // Connecting (client setname/setinfo, info for the version check) and quitting.
    const connProto = (m as unknown as { RedisConnection?: { prototype: Proto } }).RedisConnection?.prototype;
    if (connProto && typeof connProto.init === 'function') this._wrap(connProto, 'init', suppressedAlways);
    if (connProto && typeof connProto.close === 'function') this._wrap(connProto, 'close', suppressedAlways);
  }

  private unpatch(m: typeof bullmq): void {
    const q = m.Queue?.prototype as unknown as Proto | undefined;
    const w = m.Worker?.prototype as unknown as Proto | undefined;
    const e = m.QueueEvents?.prototype as unknown as Proto | undefined;
    if (q) {
      this._unwrap(q, 'add');
      this._unwrap(q, 'addBulk');
    }
    if (w) {
      this._unwrap(w, 'callProcessJob');
      this._unwrap(w, 'run');
      this._unwrap(w, 'emit');
    }
    if (e) {
      this._unwrap(e, 'run');
      this._unwrap(e, 'emit');
    }
    const c = (m as unknown as { RedisConnection?: { prototype: Proto } }).RedisConnection?.prototype;
    if (c) {
      this._unwrap(c, 'init');
      this._unwrap(c, 'close');
    }
  }

  private producerSpan(queue: QueueLike, extra: Attributes): { span: Span; ctx: Context } {
    const parent = context.active();
    const span = this.tracer.startSpan(
      `publish ${queue.name}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: { [SYSTEM]: 'bullmq', [OPERATION_TYPE]: 'send', [OPERATION_NAME]: 'publish', [DESTINATION]: queue.name, ...extra },
      },
      parent,
    );
    return { span, ctx: trace.setSpan(parent, span) };
  }

  private wrapAdd(original: AnyFn): AnyFn {
    const inst = this;
    return function add(this: QueueLike, name: unknown, data: unknown, opts: JobsOptions | undefined, ...rest: unknown[]): unknown {
      if (this?.opts?.telemetry || typeof this?.name !== 'string') return original.call(this, name, data, opts, ...rest);
      const { span, ctx } = inst.producerSpan(this, typeof name === 'string' ? { [JOB_NAME]: name } : {});
      const newOpts = withMetadata(opts, serialize(ctx));
      return finish(
        span,
        () => context.with(ctx, () => original.call(this, name, data, newOpts, ...rest)),
        (job) => {
          const id = (job as JobLike | undefined)?.id;
          if (typeof id === 'string') span.setAttribute(MESSAGE_ID, id);
        },
        inst.sent(this.name, 1, ctx),
      );
    };
  }

  private wrapAddBulk(original: AnyFn): AnyFn {
    const inst = this;
    return function addBulk(this: QueueLike, jobs: unknown, ...rest: unknown[]): unknown {
      if (this?.opts?.telemetry || typeof this?.name !== 'string' || !Array.isArray(jobs)) return original.call(this, jobs, ...rest);
      const { span, ctx } = inst.producerSpan(this, { [BATCH_COUNT]: jobs.length });
      const meta = serialize(ctx);
      const withCtx = jobs.map((j: { name?: string; data?: unknown; opts?: JobsOptions }) =>
        j && typeof j === 'object' ? { ...j, opts: withMetadata(j.opts, meta) } : j,
      );
      return finish(span, () => context.with(ctx, () => original.call(this, withCtx, ...rest)), undefined, inst.sent(this.name, jobs.length, ctx));
    };
  }

  private wrapProcess(original: AnyFn): AnyFn {
    const inst = this;
    return function callProcessJob(this: QueueLike, job: JobLike, ...rest: unknown[]): unknown {
      if (this?.opts?.telemetry || !job || typeof job !== 'object') return original.call(this, job, ...rest);
      // The job's context, not the worker loop's (which is suppressed, see run()).
      const parent = deserialize(job.opts?.telemetry?.metadata);
      const attributes: Attributes = { [SYSTEM]: 'bullmq', [OPERATION_TYPE]: 'process', [OPERATION_NAME]: 'process', [DESTINATION]: String(this.name) };
      if (typeof job.id === 'string') attributes[MESSAGE_ID] = job.id;
      if (typeof job.name === 'string') attributes[JOB_NAME] = job.name;
      // attemptsStarted counts this run already; older 5.x only has attemptsMade (finished attempts).
      const attempt = typeof job.attemptsStarted === 'number' && job.attemptsStarted > 0 ? job.attemptsStarted : (job.attemptsMade ?? 0) + 1;
      attributes[ATTEMPT] = attempt;
      const span = inst.tracer.startSpan(`process ${String(this.name)}`, { kind: SpanKind.CONSUMER, attributes }, parent);
      const ctx = trace.setSpan(parent, span);
      const m = inst.metrics;
      const t0 = m ? MessagingMetrics.start() : 0;
      const after: After | undefined = m
        ? (failed, e) =>
            m.processed(t0, { [SYSTEM]: 'bullmq', [OPERATION_TYPE]: 'process', [OPERATION_NAME]: 'process', [DESTINATION]: String(this.name) }, failed, e, ctx)
        : undefined;
      return finish(span, () => context.with(ctx, () => original.call(this, job, ...rest)), undefined, after);
    };
  }
}

function suppressed(original: AnyFn): AnyFn {
  return function run(this: QueueLike, ...args: unknown[]): unknown {
    // BullMQ's own telemetry makes spans inside the loop on purpose: leave those alone.
    if (this?.opts?.telemetry) return original.apply(this, args);
    return context.with(context.active().setValue(SUPPRESS, true), () => original.apply(this, args));
  };
}

function suppressedAlways(original: AnyFn): AnyFn {
  return function (this: unknown, ...args: unknown[]): unknown {
    return context.with(context.active().setValue(SUPPRESS, true), () => original.apply(this, args));
  };
}

function unsuppressed(original: AnyFn): AnyFn {
  return function emit(this: unknown, ...args: unknown[]): unknown {
    const ctx = context.active();
    if (ctx.getValue(SUPPRESS) !== true) return original.apply(this, args);
    return context.with(ctx.deleteValue(SUPPRESS), () => original.apply(this, args));
  };
}
