/**
 * What the agent's own Redis instrumentations (node-redis, ioredis) share:
 * method wrapping without shimmer (no per-call containment wrapper around
 * them: each wrapper guards its own bookkeeping), and a tracer from a Shaper
 * so every span gets the end-of-span fixes of db/redis.ts (finishRedis:
 * upper-case names, error.type from the Redis reply code, messages masked),
 * and db.client.operation.duration when metrics are on.
 */
import { InstrumentationBase, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { Shaper } from './shaper';
import { finishRedis } from './redis';
import { DbDuration } from './metrics';
import { AGENT_VERSION } from '../../version';

export type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
/** A wrapper, typed by what it reads of `this` and its arguments. */
export type Wrapper = (this: never, ...args: never[]) => unknown;

const ORIGINAL = Symbol('@x/otel-agent/redis original');
type Wrapped = AnyFn & { [ORIGINAL]?: AnyFn };

export interface RedisConfig extends InstrumentationConfig {
  /** Record db.client.operation.duration (a metrics exporter is set). */
  metrics?: boolean;
}

export abstract class RedisBase<C extends RedisConfig = RedisConfig> extends InstrumentationBase<C> {
  /** Every wrapper catches its own failures: the app's call always runs as it would without the agent. */
  readonly selfContained = true;
  // init() runs inside super(), before this field is set: read it only when patching or later.
  protected readonly shaper: Shaper;
  /** Set when metrics are on: every command and batch the app issued is one point, sampled or not. */
  protected duration: DbDuration | undefined;

  constructor(name: string, config: C) {
    super(`@x/otel-agent/${name}`, AGENT_VERSION, config);
    this.shaper = new Shaper({ end: finishRedis });
    this.setTracerProvider(this.shaper.provider);
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected override _updateMetricInstruments(): void {
    this.duration = this.getConfig().metrics ? new DbDuration(this.meter) : undefined;
  }

  protected wrapMethod(target: object | undefined, method: string, make: (original: AnyFn) => Wrapper): void {
    const t = target as Record<string, unknown> | undefined;
    const current = t?.[method] as Wrapped | undefined;
    if (!t || typeof current !== 'function' || current[ORIGINAL]) return;
    const w = make(current) as unknown as Wrapped;
    Object.defineProperty(w, ORIGINAL, { value: current });
    const d = Object.getOwnPropertyDescriptor(t, method);
    Object.defineProperty(t, method, { value: w, writable: true, configurable: true, enumerable: d ? d.enumerable : false });
  }

  protected unwrapMethod(target: object | undefined, method: string): void {
    const t = target as Record<string, unknown> | undefined;
    const current = t?.[method] as Wrapped | undefined;
    if (t && typeof current === 'function' && current[ORIGINAL]) t[method] = current[ORIGINAL];
  }
}
