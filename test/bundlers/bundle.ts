/**
 * Bundles a fixture with the real esbuild, webpack or Rollup (devDependencies, from the npm
 * registry) and the agent's plugin as a user adds it (imported from `@x/otel-agent/<bundler>`,
 * i.e. dist/), into a folder inside the repository (so that `mode: 'external'` bundles find
 * the packages they leave out in its node_modules).
 */
import { join } from 'node:path';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import json from '@rollup/plugin-json';
import type { PluginOptions } from '../../src/bundlers/core';

export type Bundler = 'esbuild' | 'webpack' | 'rollup';

export interface BundleJob {
  bundler: Bundler;
  /** Absolute path of the entry file. */
  entry: string;
  format: 'cjs' | 'esm';
  outDir: string;
  outName: string;
  minify?: boolean;
  sourcemap?: boolean;
  /** Packages the build's own configuration leaves out (esbuild `external`, webpack `externals`, Rollup `external`). */
  externals?: string[];
  /** false: built without the agent's plugin. */
  plugin?: PluginOptions | false;
}

/** The plugins as an app's build imports them: through the package's exports, from dist/. */
async function plugins(): Promise<{
  esbuild: (o?: PluginOptions) => unknown;
  webpack: new (o?: PluginOptions) => unknown;
  rollup: (o?: PluginOptions) => unknown;
}> {
  const [e, w, r] = await Promise.all([
    import('@x/otel-agent/esbuild' as string),
    import('@x/otel-agent/webpack' as string),
    import('@x/otel-agent/rollup' as string),
  ]);
  return { esbuild: e.otelAgent, webpack: w.OtelAgentWebpackPlugin, rollup: r.otelAgent };
}

/** Bundles one job; returns the output file. */
export async function bundle(job: BundleJob): Promise<string> {
  const out = join(job.outDir, job.outName);
  const p = await plugins();
  const opts = job.plugin === false ? undefined : (job.plugin ?? {});
  if (job.bundler === 'esbuild') {
    const { build } = await import('esbuild');
    await build({
      entryPoints: [job.entry],
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: job.format,
      outfile: out,
      external: job.externals,
      minify: !!job.minify,
      sourcemap: !!job.sourcemap,
      logLevel: 'error',
      // ESM output: bundled CommonJS packages still call require() for Node builtins.
      banner: job.format === 'esm' ? { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } : undefined,
      plugins: opts ? [p.esbuild(opts) as never] : [],
    });
  } else if (job.bundler === 'webpack') {
    const webpack = (await import('webpack')).default;
    const esm = job.format === 'esm';
    await new Promise<void>((resolve, reject) => {
      webpack(
        {
          mode: job.minify ? 'production' : 'development',
          target: 'node22',
          entry: job.entry,
          devtool: job.sourcemap ? 'source-map' : false,
          experiments: esm ? { outputModule: true } : undefined,
          output: esm
            ? { path: job.outDir, filename: job.outName, module: true, chunkFormat: 'module', library: { type: 'module' } }
            : { path: job.outDir, filename: job.outName },
          // Optional native/peer modules some packages try (pg-native, kafkajs' snappy...): not the test's subject.
          ignoreWarnings: [/Critical dependency|Module not found|Can't resolve/],
          externals: { 'pg-native': 'commonjs pg-native', ...Object.fromEntries((job.externals ?? []).map((e) => [e, `${esm ? 'module' : 'commonjs'} ${e}`])) },
          optimization: { minimize: !!job.minify },
          plugins: opts ? [new p.webpack(opts) as never] : [],
        },
        (err, stats) => {
          if (err) return reject(err);
          if (stats?.hasErrors()) return reject(new Error(stats.toString('errors-only')));
          resolve();
        },
      );
    });
  } else {
    // One Rollup build per entry and options, written in every format asked for (the build is the slow part).
    const key = `${job.entry}\0${JSON.stringify(opts ?? null)}`;
    let built = rollupBuilds.get(key);
    if (!built) {
      built = rollupBuild(job.entry, opts ? [p.rollup(opts)] : []);
      rollupBuilds.set(key, built);
    }
    const b = await built;
    await b.write({ file: out, format: job.format === 'esm' ? 'es' : 'cjs', sourcemap: !!job.sourcemap, inlineDynamicImports: true });
  }
  return out;
}

const rollupBuilds = new Map<string, Promise<import('rollup').RollupBuild>>();

async function rollupBuild(entry: string, agentPlugin: unknown[]): Promise<import('rollup').RollupBuild> {
  const { rollup } = await import('rollup');
  return rollup({
    input: entry,
    // The agent's plugin first, as docs/bundlers.md says (its hooks are order: 'pre' anyway).
    plugins: [
      ...(agentPlugin as never[]),
      nodeResolve({ preferBuiltins: true, exportConditions: ['node'] }),
      commonjs({ ignoreDynamicRequires: true }),
      json(),
    ],
    external: ['pg-native'],
    onwarn: () => undefined,
  });
}
