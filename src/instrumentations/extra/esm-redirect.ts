/**
 * import-in-the-middle keeps its hooks in module state, so only the copy the
 * agent's ESM loader hook belongs to sees the app's imports. An
 * @opentelemetry/instrumentation installed in the app resolves its own copy;
 * its `Hook(...)` registrations would never fire, and its instrumentations
 * would trace `require` only. Pointing that one resolution at the agent's copy
 * (same API: `Hook(modules, options, fn)`) makes them see `import` too.
 */
import { pathToFileURL } from 'node:url';
import type { AgentLog } from '../../log';

let installed = false;

type Next = (s: string, c?: unknown) => unknown;
interface ModuleWithHooks {
  registerHooks?: (h: { resolve: (s: string, c: { parentURL?: string }, n: Next) => unknown }) => unknown;
}

export function redirectImportInTheMiddle(log: AgentLog): void {
  if (installed) return;
  installed = true;
  const mod = process.getBuiltinModule('node:module') as unknown as ModuleWithHooks;
  let target: string;
  try {
    target = pathToFileURL(require.resolve('import-in-the-middle')).href;
  } catch (e) {
    log.warn(
      `OTEL_AGENT_EXTRA_INSTRUMENTATIONS: the agent's import-in-the-middle was not found (${(e as Error).message}); those instrumentations trace require() only`,
    );
    return;
  }
  if (typeof mod.registerHooks !== 'function') return;
  mod.registerHooks({
    resolve(specifier, context, next) {
      const parent = context.parentURL;
      if (specifier === 'import-in-the-middle' && parent && parent.includes('/@opentelemetry/instrumentation/')) {
        return { url: target, format: 'commonjs', shortCircuit: true };
      }
      return next(specifier, context);
    },
  });
}
