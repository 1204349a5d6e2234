/**
 * The run-time half of the build plugins (src/bundlers/): a module inside a
 * bundle built with one of them calls the function under HOOK_KEY with its
 * `module.exports`, the name require-in-the-middle would have reported (`pg`
 * for the package's main file, `pg/lib/client.js` for a file in it), and the
 * package version recorded at build time. The hook does what a require() of
 * that module from node_modules would have done:
 *
 * 1. the lazy loader activates the instrumentations that package triggers
 *    (same entries, same containment and module watching, `how: 'bundle'`);
 * 2. every activated instrumentation's live module definitions are matched
 *    and patched exactly as InstrumentationBase's require hook (`_onRequire`)
 *    does: set moduleVersion, check the supported ranges, call the module's
 *    `patch`, or the `patch` of each matching InstrumentationNodeModuleFile,
 *    with the recorded version. The instrumentations themselves do not know
 *    the difference.
 *
 * The hook never throws into the bundle: on any failure the module's own
 * exports are returned, with one warning.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { AgentLog } from './log';
import { quiet, type LazyLoader } from './instrumentations/loader';
import { moduleDefs, nestedInstrumentations, type ModuleDef } from './otel-internals';
import { supported } from './doctor/semver';

/** Keep in step with src/bundlers/core.ts (HOOK_KEY there). */
export const HOOK_KEY = Symbol.for('@x/otel-agent/bundled-module');

export type BundledHook = (exports: unknown, name: string, version: string, pkg: string) => unknown;

export interface BundledState {
  /** Bundled modules announced so far (the startup check reads it). */
  calls: number;
}

type Def = ModuleDef & { moduleExports?: unknown };

const enabled = (i: Instrumentation): boolean => {
  const f = (i as { isEnabled?: () => boolean }).isEnabled;
  return typeof f === 'function' ? f.call(i) : true;
};

/** One instrumentation's definitions against one bundled module, as InstrumentationBase._onRequire does it. */
function dispatch(inst: Instrumentation, defs: Def[], exports: unknown, name: string, version: string | undefined): unknown {
  let out = exports;
  const on = enabled(inst);
  for (const def of defs) {
    // require-in-the-middle hands a module definition its package's main file and every file inside it.
    if (name !== def.name && !name.startsWith(def.name + '/')) continue;
    def.moduleVersion = version;
    if (name === def.name) {
      if (typeof def.patch === 'function' && supported(def.supportedVersions, version, def.includePrerelease)) {
        def.moduleExports = out;
        if (on) {
          const r = def.patch(out, version);
          if (r !== undefined) out = r;
        }
      }
      continue;
    }
    for (const f of (def.files ?? []) as Def[]) {
      if (f.name !== name || typeof f.patch !== 'function' || !supported(f.supportedVersions, version, def.includePrerelease)) continue;
      f.moduleExports = out;
      if (on) {
        const r = f.patch(out, version);
        if (r !== undefined) out = r;
      }
    }
  }
  return out;
}

export function installBundledHook(loader: LazyLoader, log: AgentLog): BundledState {
  const state: BundledState = { calls: 0 };
  const hook: BundledHook = (exports, name, version, pkg) => {
    state.calls++;
    try {
      return quiet(() => {
        loader.activateFor(typeof pkg === 'string' && name.startsWith(pkg) ? name : String(name), 'bundle');
        let out = exports;
        const seen = new Set<Instrumentation>();
        for (const rec of loader.records) {
          for (const top of rec.instrumentations) {
            for (const inst of [top, ...nestedInstrumentations(top)]) {
              if (seen.has(inst)) continue;
              seen.add(inst);
              const defs = moduleDefs(inst, log);
              if (defs?.length) out = dispatch(inst, defs, out, name, version || undefined);
            }
          }
        }
        return out;
      });
    } catch (e) {
      log.warnOnce(
        `bundled:${pkg}`,
        `the bundled module ${name} could not be patched (${e instanceof Error ? e.message : String(e)}); it runs untraced, the app is unaffected`,
      );
      return exports;
    }
  };
  try {
    Object.defineProperty(globalThis, HOOK_KEY, { value: hook, configurable: true, writable: true, enumerable: false });
  } catch {
    /* a frozen global: bundled modules run untraced */
  }
  return state;
}
