/**
 * The export pipeline: a bounded queue in front of each exporter.
 *
 * Why our own instead of the SDK's BatchSpanProcessor: we need every lost span
 * to be counted with a reason (queue full, export failed) and reported in one
 * rate-limited line, and we need the queue and the batches still in flight to
 * be handed to a synchronous sender when the process exits.
 */
import { TraceFlags, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { AgentLog } from './log';

export interface ExportOutcome {
  ok: boolean;
  error?: string;
  /** Delivered, but the collector said it dropped this many (OTLP partial success). */
  rejected?: number;
  /** The collector's error_message with a partial success. */
  rejectMessage?: string;
}

export interface AgentExporter {
  /** For messages: kind and destination, never credentials. */
  readonly description: string;
  /**
   * `onAccepted`, if the exporter can tell, is called once the destination has
   * taken the spans (e.g. a 2xx status line), possibly before the export settles.
   */
  export(spans: QueuedSpan[], onAccepted?: () => void): Promise<ExportOutcome>;
  /** Delivers before returning; used only while the process exits. */
  exportSync(spans: QueuedSpan[], timeoutMs: number): ExportOutcome;
  /**
   * Optional: what the queue keeps of an ended span instead of the span
   * (the OTLP protobuf exporters encode it at once, see otlp-proto.ts
   * EncodedSpan). Batches given to this exporter then hold what it returned;
   * an exporter without it gets the spans themselves.
   */
  compact?(span: ReadableSpan): QueuedSpan;
  shutdown(): Promise<void>;
}

/** A queued span: the span itself, or what its exporter's compact() made of it. */
export type QueuedSpan = ReadableSpan | { readonly resource: object; readonly instrumentationScope: object };

export interface PipelineStats {
  started: number;
  ended: number;
  exported: number;
  /** Dropped because the queue was full (exporter slow or down). */
  dropped: number;
  /** Lost because the exporter failed to deliver them. */
  failed: number;
  exportFailures: number;
  /** Delivered, then dropped by the collector (OTLP partial success `rejected_spans`). */
  rejected: number;
}

export function newStats(): PipelineStats {
  return { started: 0, ended: 0, exported: 0, dropped: 0, failed: 0, exportFailures: 0, rejected: 0 };
}

export interface BatchOptions {
  scheduleDelayMs: number;
  exportTimeoutMs: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
}

/**
 * Exports in flight at once (the HTTP sender keeps as many sockets). A busy app
 * on a shared machine sees collector answers take 2 ms at the median and 15-80 ms
 * at the tail; with two in flight a 25k spans/s loop dropped 5% of its spans on
 * such stalls, with four none up to 100k spans/s (bench/NOTES.md, "span rate").
 * The memory bound is the queue plus this many batches.
 */
export const MAX_ACTIVE_EXPORTS = 4;

export class BatchProcessor implements SpanProcessor {
  private queue: QueuedSpan[] = [];
  /** Batches being exported; `accepted` once the destination has taken them (the exit flush must not resend those). */
  private readonly inFlight = new Map<QueuedSpan[], { accepted: boolean }>();
  private timer: NodeJS.Timeout | undefined;
  /** Queue entries from this index on are spans not yet compacted (see compactQueued). */
  private compactFrom = 0;
  private compactTask: NodeJS.Immediate | undefined;
  /** The timer is set to fire at once (a full batch waits), not after the schedule delay. */
  private timerNow = false;
  private active = 0;
  private waiters: (() => void)[] = [];
  private failing = false;
  private closed = false;
  /** Earliest time the next "queue full" warning may be formatted (the log rate-limits it further). */
  private dropWarnAt = 0;

  constructor(
    private readonly exporter: AgentExporter,
    private readonly opts: BatchOptions,
    private readonly stats: PipelineStats,
    private readonly log: AgentLog,
  ) {}

  onStart(_span: Span, _ctx: Context): void {
    // Counting is done once in the provider-level counter, not per exporter.
  }

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0) this.enqueue(span);
  }

  /** Queues an ended span whatever its sampled flag: local tail mode (src/sampling/tail.ts) sends the unsampled spans it keeps here. */
  enqueue(span: ReadableSpan): void {
    if (this.closed) return;
    // Memory bound: the queue (OTEL_BSP_MAX_QUEUE_SIZE, as the spec defines it), plus at
    // most MAX_ACTIVE_EXPORTS batches in flight. Batches in flight take no room from the
    // queue: a burst arriving while the collector answers slowly is what the queue is for.
    if (this.queue.length >= this.opts.maxQueueSize) {
      this.stats.dropped++;
      // Dropping happens per span while the collector is down or slow: keep it to
      // a counter increment, and build the warning at most once a second.
      const now = Date.now();
      if (now >= this.dropWarnAt) {
        this.dropWarnAt = now + 1000;
        this.log.rateLimited(
          'dropped:' + this.exporter.description,
          `span queue full (OTEL_BSP_MAX_QUEUE_SIZE=${this.opts.maxQueueSize}): ${this.stats.dropped} span(s) dropped so far; ` +
            `the exporter (${this.exporter.description}) is not keeping up`,
        );
      }
      return;
    }
    this.queue.push(span);
    if (this.exporter.compact !== undefined && this.compactTask === undefined) {
      this.compactTask = setImmediate(this.compactQueued);
      this.compactTask.unref();
    }
    if (this.queue.length >= this.opts.maxExportBatchSize) this.kick(0);
    else if (!this.timer) this.kick(this.opts.scheduleDelayMs);
  }

  /**
   * The exporter's compact form of the spans queued since the last time, once
   * per event-loop turn (setImmediate), when it has one. Measured on the
   * hello-world bench at 100% sampling (bench/NOTES.md): spans kept as objects
   * until the export were promoted to the old generation and copied by every
   * scavenge on the way; compacting each span inside its end() put the encoder
   * between the request's own steps (cold caches, 5-12% more CPU per request
   * at saturation), once per turn it runs in a loop. A span compact() throws
   * on stays queued as it is; an export or exit flush before the turn ends
   * takes spans as they are (the exporters encode both forms).
   */
  private readonly compactQueued = (): void => {
    this.compactTask = undefined;
    const c = this.exporter.compact;
    if (c === undefined) return;
    const q = this.queue;
    for (let i = this.compactFrom; i < q.length; i++) {
      try {
        q[i] = c.call(this.exporter, q[i] as ReadableSpan);
      } catch {
        // Stays a span; its export then fails with the reason, counted.
      }
    }
    this.compactFrom = q.length;
  };

  /** Schedules an export (exports run in a timer, never inside the span.end() of the app's request). */
  private kick(delay: number): void {
    if (this.active >= MAX_ACTIVE_EXPORTS) return; // a finishing export re-checks the queue
    if (this.timer) {
      // Every span ended between a full batch and its timer firing comes here: the timer
      // already set to fire at once stays (re-arming it per span cost 0.4 µs a span).
      if (delay > 0 || this.timerNow) return;
      clearTimeout(this.timer);
    }
    this.timerNow = delay === 0;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.launch(true);
    }, delay);
    // Never keep the app alive just to export: exit paths flush explicitly.
    this.timer.unref();
  }

  /**
   * Starts exports while a slot is free: full batches, or one partial batch
   * when `partial` (the schedule delay expired, or a flush asked for everything).
   */
  private launch(partial: boolean): void {
    while (this.active < MAX_ACTIVE_EXPORTS && this.queue.length > 0 && (partial || this.queue.length >= this.opts.maxExportBatchSize)) {
      const batch = this.queue.splice(0, this.opts.maxExportBatchSize);
      this.compactFrom = Math.max(0, this.compactFrom - batch.length);
      partial = this.waiters.length > 0;
      this.active++;
      void this.exportBatch(batch).finally(() => {
        this.active--;
        this.afterExport();
      });
    }
  }

  private afterExport(): void {
    const w = this.waiters;
    if (w.length) {
      // A flush is waiting: it re-launches what is left itself.
      this.waiters = [];
      for (const f of w) f();
      return;
    }
    if (this.closed) return;
    this.launch(false);
    if (this.queue.length > 0 && this.active < MAX_ACTIVE_EXPORTS && !this.timer) this.kick(this.opts.scheduleDelayMs);
  }

  private async exportBatch(batch: QueuedSpan[]): Promise<void> {
    const state = { accepted: false };
    this.inFlight.set(batch, state);
    let outcome: ExportOutcome;
    try {
      outcome = await withTimeout(
        this.exporter.export(batch, () => (state.accepted = true)),
        this.opts.exportTimeoutMs,
      );
    } catch (e) {
      // The destination took the batch and then the answer stalled: delivered, not lost.
      outcome = state.accepted ? { ok: true } : { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    // Gone already if the exit flush took over (it settled the batch itself).
    if (!this.inFlight.delete(batch)) return;
    this.settle(batch.length, outcome);
  }

  private settle(n: number, outcome: ExportOutcome): void {
    if (outcome.ok) {
      const rejected = Math.min(n, Math.max(0, Math.floor(outcome.rejected ?? 0)));
      this.stats.exported += n - rejected;
      if (rejected > 0) {
        this.stats.rejected += rejected;
        // Once per process: a collector that rejects some spans usually rejects them for the same reason every time.
        this.log.warnOnce(
          'rejected:' + this.exporter.description,
          `${this.exporter.description} accepted an export but rejected ${rejected} of its ${n} span(s) (OTLP partial success): ` +
            `${outcome.rejectMessage || 'no reason given'}; rejected spans are counted in the exit summary`,
        );
      }
      if (this.failing) {
        this.failing = false;
        this.log.info(`export to ${this.exporter.description} works again`);
      }
      return;
    }
    this.stats.failed += n;
    this.stats.exportFailures++;
    this.failing = true;
    this.log.rateLimited(
      'export:' + this.exporter.description,
      `could not export spans to ${this.exporter.description}: ${outcome.error ?? 'unknown error'} ` +
        `(${this.stats.failed} span(s) lost in ${this.stats.exportFailures} failed export(s) so far)`,
    );
  }

  /** Exports everything queued, and waits for the exports in flight. */
  async forceFlush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.queue.length > 0 || this.active > 0) {
      const done = new Promise<void>((r) => this.waiters.push(r));
      this.launch(true);
      await done;
    }
  }

  /**
   * The process is exiting: hand everything not yet delivered (queued and in
   * flight) to the exporter's synchronous path, bounded by `timeoutMs`.
   * A batch in flight whose answer has not come yet may then arrive twice
   * (losing it would be worse); one the collector already took is not resent.
   */
  flushSync(timeoutMs: number): void {
    const spans: QueuedSpan[] = [];
    for (const [b, st] of this.inFlight) {
      // Already taken by the collector, its answer still being read: delivered, not to be sent twice.
      if (st.accepted) this.settle(b.length, { ok: true });
      else spans.push(...b);
    }
    this.inFlight.clear();
    spans.push(...this.queue);
    this.queue = [];
    this.compactFrom = 0;
    if (this.timer) clearTimeout(this.timer);
    this.closed = true;
    if (spans.length === 0) return;
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < spans.length; i += this.opts.maxExportBatchSize) {
      const left = deadline - Date.now();
      const batch = spans.slice(i, i + this.opts.maxExportBatchSize);
      if (left <= 0) {
        this.settle(spans.length - i, { ok: false, error: 'flush timeout (OTEL_AGENT_FLUSH_TIMEOUT) reached at exit' });
        return;
      }
      let outcome: ExportOutcome;
      try {
        outcome = this.exporter.exportSync(batch, left);
      } catch (e) {
        outcome = { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      this.settle(batch.length, outcome);
    }
  }

  /** The process lived on after the exit flush (a signal-exit v4 callback kept it alive): take spans again. */
  reopen(): void {
    this.closed = false;
  }

  pending(): number {
    let n = this.queue.length;
    for (const b of this.inFlight.keys()) n += b.length;
    return n;
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.closed = true;
    await this.exporter.shutdown();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`export timed out after ${ms} ms (OTEL_BSP_EXPORT_TIMEOUT)`)), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Counts spans started (sampled or not recorded by exporters) for the exit summary. */
export class CountingProcessor implements SpanProcessor {
  constructor(private readonly stats: PipelineStats) {}
  onStart(): void {
    this.stats.started++;
  }
  onEnd(): void {
    this.stats.ended++;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Remembers which spans of this process are still open (only installed for the console tree). */
export class OpenSpans implements SpanProcessor {
  private readonly open = new Set<string>();
  has = (id: string): boolean => this.open.has(id);
  onStart(span: Span): void {
    if (this.open.size < 100_000) this.open.add(span.spanContext().spanId);
  }
  onEnd(span: ReadableSpan): void {
    this.open.delete(span.spanContext().spanId);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
