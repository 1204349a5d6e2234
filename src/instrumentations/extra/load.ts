/**
 * OTEL_AGENT_EXTRA_INSTRUMENTATIONS: OpenTelemetry instrumentation packages
 * the user installed in the app (tedious, knex, @prisma/instrumentation, ...),
 * run like the agent's own ones.
 *
 * - Found from the app, not from the agent: resolved from the directory of the
 *   app's entry file, then from the working directory.
 * - Loaded and constructed disabled at start, because the only way to know
 *   which modules a package patches is to ask its instrumentation
 *   (getModuleDefinitions()); constructing it also sets up its own
 *   require-in-the-middle hook, which has to exist before the app's first
 *   require of those modules. Switched on (enable()) lazily, through the same
 *   lazy loader as ours, at the first require or import of one of them.
 * - ES modules: the package's @opentelemetry/instrumentation registers its
 *   import-in-the-middle hooks with whatever copy it resolves; only the
 *   agent's copy is wired to the agent's ESM loader hook, so resolutions of
 *   `import-in-the-middle` from an app's @opentelemetry/instrumentation are
 *   pointed at the agent's copy (esm-redirect.ts), and the modules the package
 *   declares go on the include list.
 * - The agent's tracer provider (and the global meter provider) are handed to
 *   each instrumentation when it is switched on.
 *
 * A package that cannot be found, cannot be loaded, or exports no
 * instrumentation is named in one warning; the app runs on without it.
 */
import { metrics, type TracerProvider } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { dirname } from 'node:path';
import type { AgentLog } from '../../log';
import type { Entry } from '../index';
import { moduleDefs } from '../../otel-internals';
import { packageName } from '../../package-name';
import { redirectImportInTheMiddle } from './esm-redirect';

type Ctor = new (config?: object) => Instrumentation;

/** Directories the app's packages are resolved from: the entry file's, then the working directory. */
export function appDirs(argv1: string | undefined = process.argv[1], cwd: string = process.cwd()): string[] {
  const dirs: string[] = [];
  if (argv1) dirs.push(dirname(argv1));
  if (!dirs.includes(cwd)) dirs.push(cwd);
  return dirs;
}

function isInstrumentationClass(v: unknown): v is Ctor {
  if (typeof v !== 'function') return false;
  const p = (v as { prototype?: Record<string, unknown> }).prototype;
  return !!p && typeof p.enable === 'function' && typeof p.disable === 'function' && typeof p.setTracerProvider === 'function';
}

/** The module names an instrumentation declares (for the lazy loader's triggers and the ESM include list). */
function declaredModules(instr: Instrumentation, log: AgentLog): string[] {
  const defs = (instr as { getModuleDefinitions?: () => { name: string }[] }).getModuleDefinitions?.() ?? moduleDefs(instr, log) ?? [];
  return [...new Set(defs.map((d) => d.name).filter((n) => typeof n === 'string' && n !== ''))];
}

const resolveFrom = (pkg: string, dirs: string[]): string => require.resolve(pkg, { paths: dirs });

/** One lazy-loader entry per package that loads; a warning for each that does not. */
export function loadExtraInstrumentations(names: readonly string[], log: AgentLog, provider: TracerProvider, dirs: string[] = appDirs()): Entry[] {
  if (names.length === 0) return [];
  redirectImportInTheMiddle(log);
  const entries: Entry[] = [];
  for (const pkg of names) {
    const say = (why: string): void =>
      log.warn(`OTEL_AGENT_EXTRA_INSTRUMENTATIONS: "${pkg}" ${why}; the app runs without it (install it in the app: npm install ${pkg})`);
    let file: string;
    try {
      file = resolveFrom(pkg, dirs);
    } catch {
      say(`is not installed where the app can load it (looked from ${dirs.join(', ')})`);
      continue;
    }
    let instrs: Instrumentation[];
    try {
      const mod = require(file) as Record<string, unknown>;
      const classes = [...new Set(Object.values(mod ?? {}).filter(isInstrumentationClass))];
      // enabled: false: nothing is hooked until one of its modules is loaded.
      instrs = classes.map((C) => new C({ enabled: false }));
    } catch (e) {
      say(`could not be loaded (${(e as Error).message})`);
      continue;
    }
    if (instrs.length === 0) {
      say('exports no OpenTelemetry instrumentation class');
      continue;
    }
    const modules = [...new Set(instrs.flatMap((i) => declaredModules(i, log)))];
    if (modules.length === 0) {
      say('declares no module to patch');
      continue;
    }
    log.debug(`OTEL_AGENT_EXTRA_INSTRUMENTATIONS: "${pkg}" (${file}) waits for ${modules.join(', ')}`);
    entries.push({
      name: pkg,
      triggers: [...new Set(modules.map((m) => packageName(m.replace(/^node:/, ''))))],
      esm: modules,
      create: () => {
        for (const i of instrs) {
          i.setTracerProvider(provider);
          i.setMeterProvider?.(metrics.getMeterProvider());
          i.enable();
        }
        return instrs;
      },
    });
  }
  return entries;
}
