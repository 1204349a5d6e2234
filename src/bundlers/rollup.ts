/**
 * `@x/otel-agent/rollup` (also Vite SSR): plugins: [otelAgent(), nodeResolve(), commonjs()]
 * (docs/bundlers.md). Its hooks run before the other plugins' (order: 'pre'),
 * so the trailer is added to the CommonJS source before @rollup/plugin-commonjs
 * turns it into an ES module. Rollup itself is never imported.
 */
import { dirname } from 'node:path';
import { packageName } from '../package-name';
import {
  banner,
  bareSpecifier,
  classify,
  isCommonJs,
  isInstrumented,
  makeSay,
  moduleList,
  resolveCommonJs,
  Summary,
  trailer,
  type PluginOptions,
} from './core';

export type { PluginOptions } from './core';

type Resolved = unknown;

/** The slice of Rollup's plugin context resolveId uses. */
interface Ctx {
  resolve(source: string, importer: string | undefined, options: Record<string, unknown>): Promise<unknown>;
}

export function otelAgent(options: PluginOptions = {}) {
  const say = makeSay(options);
  const list = moduleList(options, say);
  const summary = new Summary('rollup', say);
  const external = options.mode === 'external';
  return {
    name: '@x/otel-agent',
    buildStart(): void {
      summary.start();
    },
    resolveId: {
      order: 'pre' as const,
      handler(this: Ctx, source: string, importer: string | undefined, opts: Record<string, unknown>): Resolved {
        if (!importer || importer.includes('\0') || !bareSpecifier(source)) return null;
        const pkg = packageName(source);
        if (!isInstrumented(pkg, list)) return null;
        if (external) {
          summary.external(pkg, dirname(importer));
          return { id: source, external: true };
        }
        // The CommonJS build, resolved on through the other plugins (@rollup/plugin-commonjs needs to see it).
        const file = resolveCommonJs(source, dirname(importer));
        return file ? this.resolve(file, importer, { ...opts, skipSelf: true }) : null;
      },
    },
    transform: {
      order: 'pre' as const,
      handler(code: string, id: string): { code: string; map: null } | null {
        if (external || id.includes('\0')) return null;
        const file = id.replace(/\?.*$/, '');
        const f = classify(file, list);
        if (!f || !isCommonJs(file, code)) return null;
        summary.wrappedFile(f);
        // Appended only: earlier lines keep their positions, so no new source map is needed.
        return { code: code + trailer(f), map: null };
      },
    },
    banner(): string {
      return banner('rollup');
    },
    buildEnd(): void {
      summary.end();
    },
  };
}

export default otelAgent;
