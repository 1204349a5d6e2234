/**
 * pg and pg-pool: query spans named `<operation> <table>` with literal-free
 * db.query.text, error.type from the SQLSTATE, and no span for a pool
 * checkout that neither connects nor waits.
 */
import { InstrumentationNodeModuleDefinition, type Instrumentation } from '@opentelemetry/instrumentation';
import { Layer, exportsOf, shapeWith } from '../db/layer';
import { finishSql } from '../db/errors';

/**
 * pg-pool: `pool.connect()` (and `pool.query()`, which uses it) hands out an
 * idle client without any I/O most of the time; a span for that is noise. A
 * checkout span is kept when it opens a new connection (its `pg.connect`
 * child shows the handshake) or has to wait for a busy pool.
 */
class PgPoolCheckout extends Layer {
  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'pg-pool',
        ['>=2.0.0 <4'],
        (m) => {
          const proto = exportsOf<{ prototype?: object }>(m).prototype;
          const shaper = this.shaper;
          this.wrapMethod(
            proto,
            'connect',
            (original) =>
              function connect(this: unknown, ...args: unknown[]) {
                const pool = this as { _idle?: unknown[]; _pendingQueue?: unknown[] };
                const immediate = Array.isArray(pool._idle) && Array.isArray(pool._pendingQueue) && pool._idle.length > pool._pendingQueue.length;
                return immediate ? shaper.withoutSpans(() => original.apply(this, args)) : original.apply(this, args);
              },
          );
          return m;
        },
        (m) => this.unwrapMethod(exportsOf<{ prototype?: object }>(m)?.prototype, 'connect'),
      ),
    ];
  }
}

export function shape(make: (config: Record<string, unknown>) => Instrumentation[]): Instrumentation[] {
  return shapeWith(
    // Connect spans keep upstream's names (pg.connect, pg-pool.connect); query spans are renamed.
    { end: finishSql('postgresql', /^pg\.query/) },
    // Connect spans stay on: PgPoolCheckout drops the ones that did nothing.
    { enhancedDatabaseReporting: false, requireParentSpan: false, ignoreConnectSpans: false },
    make,
    [],
    [(s) => new PgPoolCheckout('pg-pool-checkout', s)],
  );
}
