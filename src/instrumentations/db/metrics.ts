/**
 * `db.client.operation.duration`, the one database metric the agent records
 * (when a metrics exporter is set): every operation, sampled or not. What
 * the database instrumentations cost for it is one clock read when the call
 * starts and one histogram record when it ends; this file is the only place
 * that talks to the metrics API for them.
 */
import { type Attributes, type Context, type Histogram, type Meter } from '@opentelemetry/api';
import { durationHistogram } from '../duration-histogram';

/** The semantic conventions' buckets for this histogram (what upstream instrumentation-pg used). */
const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

export class DbDuration {
  private readonly h: Histogram;

  constructor(meter: Meter) {
    this.h = durationHistogram(meter, 'db.client.operation.duration', 'Duration of database client operations.', BUCKETS);
  }

  /** The clock reading to hand back to record(). */
  static start(): number {
    return performance.now();
  }

  /** One operation that started at `t0` (start()) ended now; `ctx` is the caller's (for exemplars). */
  record(t0: number, attributes: Attributes, ctx: Context): void {
    this.h.record((performance.now() - t0) / 1000, attributes, ctx);
  }
}

/** What a connection pool says about itself when the metrics are collected. */
export interface PoolState {
  name: string;
  used: number;
  idle: number;
  pending: number;
  max: number | undefined;
}

/**
 * `db.client.connection.count` (by `db.client.connection.state`: used, idle),
 * `db.client.connection.pending_requests` and `db.client.connection.max`, per
 * pool (`db.client.connection.pool.name`). Read from the pools when the
 * exporter collects, so a checkout or release costs nothing for them. Pools
 * are held weakly: one the app drops stops being reported.
 */
export class DbPoolGauges {
  private readonly pools = new Set<WeakRef<object>>();
  private readonly seen = new WeakSet<object>();

  constructor(meter: Meter, read: (pool: object) => PoolState | undefined) {
    const count = meter.createObservableUpDownCounter('db.client.connection.count', {
      description: 'The number of connections that are currently in state described by the state attribute.',
      unit: '{connection}',
    });
    const pending = meter.createObservableUpDownCounter('db.client.connection.pending_requests', {
      description: 'The number of current pending requests for an open connection.',
      unit: '{request}',
    });
    const max = meter.createObservableUpDownCounter('db.client.connection.max', {
      description: 'The maximum number of open connections allowed.',
      unit: '{connection}',
    });
    meter.addBatchObservableCallback(
      (r) => {
        for (const ref of this.pools) {
          const pool = ref.deref();
          const s = pool && read(pool);
          if (!pool) this.pools.delete(ref);
          if (!s) continue;
          const name = { 'db.client.connection.pool.name': s.name };
          r.observe(count, s.used, { ...name, 'db.client.connection.state': 'used' });
          r.observe(count, s.idle, { ...name, 'db.client.connection.state': 'idle' });
          r.observe(pending, s.pending, name);
          if (s.max !== undefined) r.observe(max, s.max, name);
        }
      },
      [count, pending, max],
    );
  }

  /** A pool the app uses (called on its checkouts: the first call registers it). */
  add(pool: object): void {
    if (this.seen.has(pool)) return;
    this.seen.add(pool);
    this.pools.add(new WeakRef(pool));
  }
}
