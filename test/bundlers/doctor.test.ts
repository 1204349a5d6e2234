/**
 * `otel-agent doctor dist/app.js` on a bundle: built without the agent's plugin, it is a
 * problem with the fix spelled out (the plugin of that bundler and the line to add); built
 * with it, nothing is said. The bundles are made by the real esbuild and webpack, unminified
 * (a minified bundle whose helpers were renamed is not recognised: docs/bundlers.md).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, ROOT } from '../harness/fixture';
import { doctor } from '../doctor/run-doctor';
import { bundle } from './bundle';

const OUT = join(ROOT, `.bundles-doctor-${process.pid}`);
const entry = join(FIXTURES, 'bundlers/shop.mjs');

beforeAll(() => mkdirSync(OUT, { recursive: true }));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const bundleProblems = async (file: string): Promise<string[]> => {
  const r = await doctor([file, '--json', '--no-run']);
  expect(r.json, r.stderr).toBeDefined();
  return r.json!.findings.filter((f) => f.level === 'problem' && /bundle/.test(f.message)).map((f) => f.message);
};

describe('otel-agent doctor on a bundle', () => {
  it('built without the plugin: a problem naming the bundled packages, with the esbuild line to add', async () => {
    const file = await bundle({ bundler: 'esbuild', entry, format: 'cjs', outDir: OUT, outName: 'plain.cjs', plugin: false });
    const problems = await bundleProblems(file);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /plain\.cjs is an esbuild bundle built without the agent's build plugin: @redis\/client, express, pg, pg-pool, redis, router are bundled into it/,
    );
    expect(problems[0]).toContain("The fix: import { otelAgent } from '@x/otel-agent/esbuild' and add plugins: [otelAgent()] to the build options");
  });

  it('a webpack bundle without the plugin: named, with the webpack line', async () => {
    const file = await bundle({ bundler: 'webpack', entry, format: 'cjs', outDir: OUT, outName: 'plain-webpack.cjs', plugin: false });
    const problems = await bundleProblems(file);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /plain-webpack\.cjs is a webpack bundle built without the agent's build plugin: @redis\/client, express, pg, pg-pool, redis, router are bundled/,
    );
    expect(problems[0]).toContain('The fix: take OtelAgentWebpackPlugin from @x/otel-agent/webpack and add new OtelAgentWebpackPlugin() to plugins');
  }, 120_000);

  it('built with the plugin: no bundle problem', async () => {
    const file = await bundle({ bundler: 'esbuild', entry, format: 'cjs', outDir: OUT, outName: 'plugged.cjs', minify: true });
    expect(await bundleProblems(file)).toEqual([]);
  });
});
