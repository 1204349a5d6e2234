/**
 * `@x/otel-agent/webpack`: plugins: [new OtelAgentWebpackPlugin()] (docs/bundlers.md).
 * Everything it needs from webpack comes from the compiler it is applied to
 * (compiler.webpack); webpack itself is never imported.
 */
import { join } from 'node:path';
import { packageName } from '../package-name';
import { banner, bareSpecifier, classify, isInstrumented, makeSay, moduleList, resolveCommonJs, Summary, type PluginOptions } from './core';

export type { PluginOptions } from './core';

/** What the loader (webpack-loader.ts) is handed. */
export interface LoaderOptions {
  exact: string[];
  prefixes: string[];
}

interface ResolveData {
  request: string;
  context: string;
}

interface Compiler {
  webpack: {
    BannerPlugin: new (o: { banner: string; raw: boolean; entryOnly: boolean }) => { apply(c: Compiler): void };
    ExternalsPlugin: new (type: string, externals: unknown) => { apply(c: Compiler): void };
  };
  options: { module: { rules: unknown[] }; experiments?: { outputModule?: boolean } };
  hooks: {
    thisCompilation: { tap(n: string, cb: () => void): void };
    done: { tap(n: string, cb: () => void): void };
    normalModuleFactory: {
      tap(n: string, cb: (nmf: { hooks: { factorize: { tap(o: { name: string; stage: number }, cb: (d: ResolveData) => undefined): void } } }) => void): void;
    };
  };
}

const NAME = '@x/otel-agent';

export class OtelAgentWebpackPlugin {
  constructor(private readonly options: PluginOptions = {}) {}

  apply(compiler: Compiler): void {
    const say = makeSay(this.options);
    const list = moduleList(this.options, say);
    const summary = new Summary('webpack', say);
    compiler.hooks.thisCompilation.tap(NAME, () => summary.start());
    compiler.hooks.done.tap(NAME, () => summary.end());
    new compiler.webpack.BannerPlugin({ banner: banner('webpack'), raw: true, entryOnly: true }).apply(compiler);
    if (this.options.mode === 'external') {
      const type = compiler.options.experiments?.outputModule ? 'module' : 'commonjs';
      new compiler.webpack.ExternalsPlugin(type, ({ request, context }: { request?: string; context?: string }, cb: (e?: null, r?: string) => void) => {
        if (request && bareSpecifier(request) && isInstrumented(packageName(request), list)) {
          summary.external(packageName(request), context ?? process.cwd());
          return cb(null, request);
        }
        cb();
      }).apply(compiler);
      return;
    }
    compiler.hooks.normalModuleFactory.tap(NAME, (nmf) => {
      // The CommonJS build, which the loader can wrap; an ESM-only package goes the normal way. At
      // stage 50: after the externals (stage 0, so what the config leaves out stays out), before
      // webpack resolves the request (stage 100).
      nmf.hooks.factorize.tap({ name: NAME, stage: 50 }, (d) => {
        if (!d.request || !bareSpecifier(d.request) || d.request.includes('!') || !isInstrumented(packageName(d.request), list)) return undefined;
        const file = resolveCommonJs(d.request, d.context);
        if (file) d.request = file;
        return undefined;
      });
    });
    const loaderOptions: LoaderOptions = { exact: [...list.exact], prefixes: list.prefixes };
    compiler.options.module.rules.push({
      test: (file: string) => {
        const f = classify(file, list);
        if (f) summary.wrappedFile(f);
        return !!f;
      },
      use: [{ loader: join(__dirname, 'webpack-loader.cjs'), options: loaderOptions }],
    });
  }
}

export default OtelAgentWebpackPlugin;
