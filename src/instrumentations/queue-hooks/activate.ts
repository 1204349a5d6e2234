/**
 * Agent-start side of OTEL_AGENT_QUEUE_HOOKS: parse the variable, resolve each
 * module against the working directory, warn once per hook that cannot work,
 * and start the queue-hooks instrumentation before the app loads anything.
 *
 * Unlike the table's instrumentations this one is not lazy: its modules are the
 * app's own files, which no package-name trigger announces, and the hooks must
 * be in place before their first require() or import.
 */
import { createRequire } from 'node:module';
import { existsSync, realpathSync } from 'node:fs';
import { basename, extname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AgentConfig } from '../../env';
import type { AgentLog } from '../../log';
import { packageName } from '../../package-name';
import { parseQueueHooks, type HookSpec } from './grammar';
import type { ResolvedHook } from './wrap';
import type { QueueHookTarget, QueueHooksInstrumentation } from './instrumentation';

export interface QueueHooksStarted {
  /** Entries for import-in-the-middle's include list (file URLs and package specifiers). */
  esmInclude: string[];
  instrumentation: QueueHooksInstrumentation;
}

const NAME = 'queue-hooks';

function isPathSpec(m: string): boolean {
  return m.startsWith('./') || m.startsWith('../') || isAbsolute(m);
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** Resolves every module; returns targets and warns for those that cannot be found or hooked. */
export function resolveTargets(hooks: HookSpec[], cwd: string, entryFile: string | undefined, warn: (msg: string) => void): QueueHookTarget[] {
  const req = createRequire(join(cwd, '__otel_agent_queue_hooks__.js'));
  const byModule = new Map<string, HookSpec[]>();
  for (const h of hooks) byModule.set(h.module, [...(byModule.get(h.module) ?? []), h]);
  const targets: QueueHookTarget[] = [];
  const entry = entryFile ? safeRealpath(resolve(cwd, entryFile)) : undefined;

  for (const [module, specs] of byModule) {
    const names = specs.map((s) => `"${s.text}"`).join(', ');
    let file: string | undefined;
    let specifier: string | undefined;
    if (isPathSpec(module)) {
      const abs = resolve(cwd, module);
      try {
        file = req.resolve(abs);
      } catch {
        if (existsSync(abs)) file = safeRealpath(abs);
      }
      if (!file) {
        warn(`OTEL_AGENT_QUEUE_HOOKS: hook ${names} ignored: module ${module} not found (looked for ${abs}, relative to the working directory ${cwd})`);
        continue;
      }
    } else {
      specifier = module;
      try {
        file = req.resolve(module);
      } catch {
        // An ESM-only package cannot be resolved by require; import may still find it.
        const pkg = packageName(module);
        const found = (req.resolve.paths(module) ?? []).some((d) => existsSync(join(d, pkg)));
        if (!found) {
          // `lib/queue.js` means a package named lib, as in require(); say so if the file is right there.
          const hint = existsSync(resolve(cwd, module)) ? ` (for the file ${resolve(cwd, module)}, write ./${module})` : '';
          warn(`OTEL_AGENT_QUEUE_HOOKS: hook ${names} ignored: package ${module} not found from ${cwd}${hint}`);
          continue;
        }
      }
    }
    if (file && entry && safeRealpath(file) === entry) {
      warn(
        `OTEL_AGENT_QUEUE_HOOKS: hook ${names} ignored: ${module} is the application's entry file, which Node runs without going ` +
          'through require() or import, so it cannot be hooked. Move the function into a module the entry file loads.',
      );
      continue;
    }
    const base = basename(file ?? module, extname(file ?? module));
    const resolved: ResolvedHook[] = specs.map((spec) => ({
      spec,
      file,
      moduleBase: base === 'index' && file ? basename(resolve(file, '..')) : base,
      calls: 0,
      state: 'pending',
    }));
    targets.push({ file, specifier, module, hooks: resolved });
  }
  return targets;
}

export function startQueueHooks(cfg: AgentConfig, log: AgentLog): QueueHooksStarted | undefined {
  const raw = cfg.agent.queueHooks;
  if (!raw) return undefined;
  const on = cfg.enabledInstrumentations;
  if ((on && !on.includes(NAME)) || cfg.disabledInstrumentations.includes(NAME)) {
    log.warn(
      `OTEL_AGENT_QUEUE_HOOKS is set but the ${NAME} instrumentation is turned off by ` +
        (on && !on.includes(NAME) ? 'OTEL_NODE_ENABLED_INSTRUMENTATIONS (add queue-hooks to it)' : 'OTEL_NODE_DISABLED_INSTRUMENTATIONS') +
        '; no queue hooks are installed',
    );
    return undefined;
  }
  const { hooks, errors } = parseQueueHooks(raw);
  for (const e of errors) log.warn(e);
  if (hooks.length === 0) return undefined;

  const targets = resolveTargets(hooks, process.cwd(), process.argv[1], (m) => log.warn(m));
  if (targets.length === 0) return undefined;
  if (cfg.agent.esmHooks === 'off') {
    const esmOnly = targets.filter((t) => t.file && /\.m[jt]s$/.test(t.file));
    if (esmOnly.length) {
      log.warn(
        `OTEL_AGENT_QUEUE_HOOKS: ${esmOnly.map((t) => t.module).join(', ')} can only be loaded with import, and OTEL_AGENT_ESM_HOOKS=off ` +
          'turns import hooks off, so hooks on these modules never apply',
      );
    }
  }

  const file = `${__dirname}/instr/queue-hooks.cjs`;
  const { QueueHooksInstrumentation: Ctor } = require(file) as typeof import('./instrumentation');
  const instrumentation = new Ctor({
    targets,
    warnOnce: (k, m) => log.warnOnce(k, m),
    info: (m) => log.info(m),
    debug: (m) => log.debug(m),
  });
  const esmInclude: string[] = [];
  for (const t of targets) {
    if (t.file) esmInclude.push(pathToFileURL(t.file).href);
    if (t.specifier) esmInclude.push(t.specifier);
  }
  log.debug(`queue hooks: ${targets.reduce((n, t) => n + t.hooks.length, 0)} hook(s) on ${targets.map((t) => t.file ?? t.module).join(', ')}`);
  return { esmInclude, instrumentation };
}
