/**
 * Patches registered next to the upstream database instrumentations (the few
 * things that need the driver's own objects: the error a mysql2 callback
 * receives, MongoDB write errors, pool state, batch boundaries), and the
 * function that assembles a driver's instrumentations around the upstream one.
 *
 * Before the upstream patch when they must run inside its wrapper, after it
 * when they must run outside (the shared require-in-the-middle hook applies
 * patches in registration order).
 */
import { diag } from '@opentelemetry/api';
import { InstrumentationBase, type Instrumentation, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { Shaper, type Hooks } from './shaper';
import { AGENT_VERSION } from '../../version';

export type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Runs our own bookkeeping so that it can never throw into the app's call or
 * become an unhandled rejection; what failed is only reported to diag.
 */
export function quietly<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    diag.debug('db-shaping: internal error', e);
    return undefined;
  }
}

export const exportsOf = <T>(m: unknown): T =>
  (m as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === 'Module' ? (m as { default: T }).default : (m as T);

const OURS = Symbol('@x/otel-agent/db-shaping original');
type Wrapped = AnyFn & { [OURS]?: AnyFn; __original?: AnyFn };

/** Whether one of our wrappers is anywhere in this chain of wrappers (ours or shimmer's). */
function chainHasOurs(fn: unknown): boolean {
  let f = fn as Wrapped | undefined;
  for (let i = 0; f && i < 16; i++) {
    if (f[OURS]) return true;
    f = f.__original;
  }
  return false;
}

/**
 * Patches sit next to upstream's, so they must not use the shared shimmer
 * marker: upstream unwraps anything shimmer-wrapped before wrapping (and would
 * remove a patch applied before it), and so would a shimmer patch applied
 * after it. These carry their own marker instead.
 */
export abstract class Layer extends InstrumentationBase<InstrumentationConfig> {
  // init() runs inside super(), before this field is set: read it only when patching or later.
  constructor(
    name: string,
    protected readonly shaper: Shaper,
  ) {
    super(`@x/otel-agent/${name}`, AGENT_VERSION, {});
  }

  protected wrapMethod(target: object | undefined, method: string, make: (original: AnyFn) => AnyFn): void {
    const t = target as Record<string, unknown> | undefined;
    const current = t?.[method];
    if (!t || typeof current !== 'function' || chainHasOurs(current)) return;
    const w = make(current as AnyFn) as Wrapped;
    Object.defineProperty(w, OURS, { value: current });
    const d = Object.getOwnPropertyDescriptor(t, method);
    Object.defineProperty(t, method, { value: w, writable: true, configurable: true, enumerable: d ? d.enumerable : false });
  }

  protected unwrapMethod(target: object | undefined, method: string): void {
    const t = target as Record<string, unknown> | undefined;
    const current = t?.[method] as Wrapped | undefined;
    if (t && typeof current === 'function' && current[OURS]) t[method] = current[OURS];
  }
}

/**
 * Builds one instrumentation's list: patches that must run inside the upstream
 * wrapper first (`inner`), then the upstream instrumentation (`make`, given its
 * configuration), then the patches that wrap it (`outer`), all with their
 * tracer from one Shaper.
 */
export function shapeWith(
  hooks: Hooks,
  config: Record<string, unknown>,
  make: (config: Record<string, unknown>) => Instrumentation[],
  inner: readonly ((s: Shaper) => Instrumentation)[],
  outer: readonly ((s: Shaper) => Instrumentation)[],
): Instrumentation[] {
  const shaper = new Shaper(hooks);
  const before = inner.map((f) => f(shaper));
  let upstream: Instrumentation[];
  try {
    upstream = make(config);
  } catch (e) {
    // The loader reports the failure; the patches registered for it must not stay behind.
    for (const i of before) i.disable();
    throw e;
  }
  const after = outer.map((f) => f(shaper));
  for (const i of [...before, ...upstream, ...after]) i.setTracerProvider(shaper.provider);
  return [...before, ...upstream, ...after];
}
