/**
 * What the agent's own SQL client instrumentations (pg, mysql2) share: the
 * sampling shortcut, starting a recording span or none, re-wrapping a method
 * another wrapper already holds, stepping aside after their own failure, and
 * the duration metric.
 */
import { SpanKind, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { InstrumentationBase, isWrapped, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { AGENT_VERSION } from '../../version';
import { unsampledChild, type AnyFn } from './calls';
import { DbDuration } from './metrics';

export interface DbConfig extends InstrumentationConfig {
  /** The sampler follows a local parent's decision: no span is started under an unsampled one. */
  followsParent?: boolean;
  /** Record db.client.operation.duration (a metrics exporter is set). */
  metrics?: boolean;
}

export type Proto = Record<string, AnyFn>;

export const exportsOf = <T>(m: unknown): T =>
  (m as { [Symbol.toStringTag]?: string } | undefined)?.[Symbol.toStringTag] === 'Module' ? (m as { default: T }).default : (m as T);

export abstract class DbInstrumentation<C extends DbConfig = DbConfig> extends InstrumentationBase<C> {
  /**
   * The wrappers guard themselves (fail()): the agent's per-call containment
   * frame (src/contain.ts) would cost more than their fast path.
   */
  readonly selfContained = true;
  protected failed = false;
  protected duration: DbDuration | undefined;

  constructor(
    private readonly short: string,
    config: C,
  ) {
    super(`@x/otel-agent/${short}`, AGENT_VERSION, config);
  }

  protected override _updateMetricInstruments(): void {
    if (this.getConfig().metrics) this.duration = new DbDuration(this.meter);
  }

  /** Our own code threw inside an app's call: the call goes on without us, and we step aside for good. */
  protected fail(where: string, e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const why = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 300);
    // The name is the definition's, as the agent's containment names it (OTEL_NODE_DISABLED_INSTRUMENTATIONS).
    const name = this.short;
    this._diag.warn(
      `instrumentation "${name}" threw inside ${where} (${why}); the call went on without it, and "${name}" is switched off for the rest of this process`,
    );
    try {
      this.disable();
    } catch {
      /* the wrappers check `failed` and pass calls straight through */
    }
  }

  protected unsampled(ctx: Context): boolean {
    return unsampledChild(ctx, this.getConfig().followsParent === true);
  }

  /**
   * A recording CLIENT span, or undefined when the sampler (or a suppressed context) says no;
   * attributes are built only when asked, as `attributes(of)`: a call made for every unsampled
   * request can pass a plain function and its argument instead of a closure made per call.
   */
  protected start<T>(name: string, ctx: Context, attributes: (of: T) => Attributes, of?: T): Span | undefined {
    if (this.unsampled(ctx)) return undefined;
    const span = this.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: attributes(of as T) }, ctx);
    return span.isRecording() ? span : undefined;
  }

  /**
   * A wrapper already there (ours, from another hook of the same module, or
   * another SDK's, which would trace every call twice) is removed first, as
   * upstream instrumentations do.
   */
  protected rewrap(proto: Proto | undefined, method: string, make: (original: AnyFn) => AnyFn): void {
    if (!proto || typeof proto[method] !== 'function') return;
    if (isWrapped(proto[method])) this._unwrap(proto, method);
    this._wrap(proto, method, make as never);
  }

  protected unwrapAll(proto: Proto | undefined, methods: readonly string[]): void {
    if (!proto) return;
    for (const m of methods) if (isWrapped(proto[m])) this._unwrap(proto, m);
  }
}
