/**
 * The require/import hooks instrumentations patch through: the shared
 * require-in-the-middle hook, the ESM hooks, and the lazy loader that creates
 * an instrumentation only when the app first loads a module it targets.
 */
import { childEnvCopy, type AgentConfig } from './env';
import type { AgentLog } from './log';
import type { Entry } from './instrumentations/index';
import { installEsmHooks, installLazyLoader, quiet, type ActivationRecord, type LazyLoader, type ResolveObserver } from './instrumentations/loader';
import { wrapOnRequire } from './otel-internals';
import { installBundledHook } from './bundled';
import { AGENT_VERSION } from './version';

export interface ModuleHooks {
  loader: LazyLoader;
  esm: 'sync' | 'async' | 'off';
}

export function installModuleHooks(
  cfg: AgentConfig,
  log: AgentLog,
  entries: Entry[],
  extraEsmInclude: readonly string[],
  onActivated: (r: ActivationRecord) => void,
  observe: ResolveObserver | undefined,
): ModuleHooks {
  // Create the shared require-in-the-middle hook now, before the app's first
  // require: instrumentations activated later register into it, and it must
  // already wrap require() when their module's first require() starts.
  const { InstrumentationBase } = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
  class Bootstrap extends InstrumentationBase {
    constructor() {
      super('@x/otel-agent/bootstrap', AGENT_VERSION, { enabled: false });
    }
    protected init(): [] {
      return [];
    }
  }
  new Bootstrap();
  // Patching runs when the app requires a module, often inside a traced
  // request; the instrumentations read package.json files with fs while they
  // do it, which must not appear as the request's fs spans.
  wrapOnRequire(InstrumentationBase, log, quiet);
  let esm: ModuleHooks['esm'] = 'off';
  // ESM hooks first: their own module loads must not look like the app's.
  try {
    esm = installEsmHooks([...entries.flatMap((e) => [...e.esm]), ...extraEsmInclude], cfg.agent.esmHooks);
  } catch (e) {
    log.warn(`ESM hooks could not be installed (${(e as Error).message}); modules loaded with import will not be traced`);
  }
  const loader = installLazyLoader(entries, { cfg, log, parentEnv: childEnvCopy }, onActivated, observe);
  // Modules inside a bundle built with the agent's build plugin announce themselves here instead (bundled.ts).
  installBundledHook(loader, log);
  return { loader, esm };
}
