/**
 * The only place that touches private members of OpenTelemetry's
 * InstrumentationBase (@opentelemetry/instrumentation). Upstream may rename
 * any of them in a minor release; every reader here checks the shape first
 * and, when it is not what we expect, warns once naming the member and what
 * the agent does without it. Nothing here may throw into the app.
 *
 * What each private is for, and what is lost if it disappears:
 *
 * - `_modules` (instance): the live module definitions the require/import
 *   hooks patch with. Not `getModuleDefinitions()`, which builds fresh copies
 *   through init(). Containment wraps their `patch`, the module watcher
 *   observes their `moduleVersion` and `patch`. Without it: a throwing patch
 *   is no longer contained (the app's require would throw), and the debug log
 *   and doctor report no longer say which modules were patched or skipped.
 * - `_wrap` (instance): the shimmer `wrap` every patch calls to install its
 *   wrappers. Containment replaces it so an instrumentation's exception inside
 *   the app's call never reaches the app. Without it: wrappers run uncontained.
 * - `_onRequire` (prototype): the require-in-the-middle callback that runs the
 *   patch. Wrapped so the fs reads the patches make (package.json lookups)
 *   are not traced as the app's fs spans. Without it: those reads may show up
 *   as fs spans inside the request that first required the module.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { AgentLog } from './log';

type Patch = (exports: unknown, version?: string) => unknown;

/** One module (or one file inside it) an instrumentation patches, as InstrumentationBase keeps it. */
export interface ModuleDef {
  name: string;
  supportedVersions: string[];
  includePrerelease?: boolean;
  /** Set by InstrumentationBase just before it decides whether to call `patch`. */
  moduleVersion?: string;
  patch?: Patch;
  unpatch?: Patch;
  files?: ModuleDef[];
}

export type WrappedFn = (this: unknown, ...args: unknown[]) => unknown;
export type WrapFactory = (original: WrappedFn, name: string) => WrappedFn;
export type ShimmerWrap = (exports: unknown, name: string, factory: WrapFactory) => unknown;

interface Internals {
  _modules?: unknown;
  _wrap?: unknown;
  instrumentationName?: unknown;
}

const what = 'the installed @opentelemetry/instrumentation no longer has';

function nameOf(instr: Instrumentation): string {
  const n = (instr as unknown as Internals).instrumentationName;
  return typeof n === 'string' ? n : 'an instrumentation';
}

/** The live module definitions, or undefined (with one warning) when upstream no longer keeps them in `_modules`. */
export function moduleDefs(instr: Instrumentation, log: AgentLog): ModuleDef[] | undefined {
  const defs = (instr as unknown as Internals)._modules;
  if (Array.isArray(defs)) return defs as ModuleDef[];
  log.warnOnce(
    'otel-internals:_modules',
    `${what} InstrumentationBase._modules (seen on ${nameOf(instr)}): patch failures are not contained and the module diagnostics are off; tracing goes on`,
  );
  return undefined;
}

/**
 * The instrumentations `instr` keeps inside itself (upstream redis is a shell
 * around one instrumentation per client generation, each with its own
 * definitions), recognised by the same private shape.
 */
export function nestedInstrumentations(instr: Instrumentation): Instrumentation[] {
  const out: Instrumentation[] = [];
  for (const v of Object.values(instr as unknown as Record<string, unknown>)) {
    const n = v as Internals | null;
    if (n && n !== (instr as unknown) && typeof n === 'object' && Array.isArray(n._modules) && typeof n.instrumentationName === 'string') {
      out.push(n as unknown as Instrumentation);
    }
  }
  return out;
}

/**
 * Replaces the instrumentation's shimmer `_wrap` with `replace(original)`.
 * Returns false (with one warning) when there is no `_wrap` to replace.
 */
export function replaceWrap(instr: Instrumentation, log: AgentLog, replace: (wrap: ShimmerWrap) => ShimmerWrap): boolean {
  const internals = instr as unknown as Internals;
  const wrap = internals._wrap;
  if (typeof wrap !== 'function') {
    log.warnOnce(
      'otel-internals:_wrap',
      `${what} InstrumentationBase._wrap (seen on ${nameOf(instr)}): an instrumentation that throws inside a wrapped call is not contained; tracing goes on`,
    );
    return false;
  }
  internals._wrap = replace(wrap as ShimmerWrap);
  return true;
}

/**
 * Makes every InstrumentationBase run its require-time patching inside `around`
 * (the loader's `quiet`). Done once, on the prototype, before any instance
 * exists. Warns once and leaves things as they are when `_onRequire` is gone.
 */
export function wrapOnRequire(base: abstract new (...a: never[]) => unknown, log: AgentLog, around: <T>(fn: () => T) => T): void {
  const proto = base.prototype as { _onRequire?: unknown };
  const onRequire = proto._onRequire;
  if (typeof onRequire !== 'function') {
    log.warnOnce(
      'otel-internals:_onRequire',
      `${what} InstrumentationBase.prototype._onRequire: the package.json reads instrumentations make while patching may show up as fs spans; tracing goes on`,
    );
    return;
  }
  proto._onRequire = function (this: unknown, ...a: unknown[]) {
    return around(() => (onRequire as WrappedFn).apply(this, a));
  };
}
