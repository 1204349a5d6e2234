/**
 * `@x/otel-agent/esbuild`: plugins: [otelAgent()] (docs/bundlers.md).
 * Uses only what esbuild hands to setup(); esbuild itself is never imported.
 */
import { readFile } from 'node:fs/promises';
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

/** The slice of esbuild's PluginBuild this plugin uses. */
interface Build {
  initialOptions: { banner?: Record<string, string>; external?: string[]; packages?: string };
  onStart(cb: () => void): void;
  onEnd(cb: () => void): void;
  onResolve(o: { filter: RegExp }, cb: (a: { path: string; resolveDir: string; kind: string; namespace: string }) => unknown): void;
  onLoad(o: { filter: RegExp; namespace?: string }, cb: (a: { path: string }) => unknown): void;
}

/** esbuild's `external` semantics: a name also covers its subpaths, `*` is a wildcard. */
function externalMatcher(list: string[]): (spec: string) => boolean {
  const res = list.map((e) =>
    e.includes('*')
      ? new RegExp(
          `^${e
            .split('*')
            .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        )
      : e,
  );
  return (spec) => res.some((r) => (typeof r === 'string' ? spec === r || spec.startsWith(r + '/') : r.test(spec)));
}

export function otelAgent(options: PluginOptions = {}): { name: string; setup(build: Build): void } {
  return {
    name: '@x/otel-agent',
    setup(build) {
      const say = makeSay(options);
      const list = moduleList(options, say);
      const summary = new Summary('esbuild', say);
      const external = options.mode === 'external';
      const o = build.initialOptions;
      const mark = banner('esbuild');
      o.banner = { ...o.banner, js: o.banner?.js ? `${o.banner.js}\n${mark}` : mark };
      build.onStart(() => summary.start());
      build.onEnd(() => summary.end());
      // What the build itself leaves out stays out: plugins resolve before esbuild applies `external`.
      const userExternal = externalMatcher(o.external ?? []);
      build.onResolve({ filter: /^[^./]/ }, (a) => {
        if (a.namespace !== 'file' || !bareSpecifier(a.path) || o.packages === 'external' || userExternal(a.path)) return undefined;
        const pkg = packageName(a.path);
        if (!isInstrumented(pkg, list)) return undefined;
        if (external) {
          summary.external(pkg, a.resolveDir);
          return { path: a.path, external: true };
        }
        // The CommonJS build, which the trailer can wrap; an ESM-only package goes the normal way.
        const file = a.resolveDir ? resolveCommonJs(a.path, a.resolveDir) : undefined;
        return file ? { path: file } : undefined;
      });
      if (external) return;
      build.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/, namespace: 'file' }, async (a) => {
        const f = classify(a.path, list);
        if (!f) return undefined;
        const code = await readFile(a.path, 'utf8');
        if (!isCommonJs(a.path, code)) return undefined;
        summary.wrappedFile(f);
        return { contents: code + trailer(f), loader: 'js' };
      });
    },
  };
}

export default otelAgent;
