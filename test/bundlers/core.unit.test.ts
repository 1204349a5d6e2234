/**
 * The pieces the three build plugins share (src/bundlers/core.ts) and the startup check
 * (src/bundle-check.ts), on the repository's real node_modules: which package list the built
 * plugins carry (the registry's, not a second list), how a file is named and classified, where
 * a bare import is sent, and what the appended line does when it runs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/fixture';
import { DEFINITIONS } from '../../src/instrumentations/registry';
import { packageName } from '../../src/package-name';
import { banner, classify, isCommonJs, moduleList, resolveCommonJs, trailer, HOOK_KEY, type ModuleList } from '../../src/bundlers/core';
import { bundleWarning, inspectBundle } from '../../src/bundle-check';

const NM = join(ROOT, 'node_modules');
const list: ModuleList = { exact: new Set(['pg', 'pg-pool', 'express', '@redis/client', 'bullmq', '@nestjs/core']), prefixes: ['@aws-sdk/'] };
const tmp = mkdtempSync(join(tmpdir(), 'otel-bundlers-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const version = (pkg: string): string => (JSON.parse(readFileSync(join(NM, pkg, 'package.json'), 'utf8')) as { version: string }).version;

describe('the package list in the built plugins', () => {
  // What the registry says: every trigger and ESM specifier that is not a Node builtin, by package.
  const exact = new Set<string>();
  const prefixes = new Set<string>();
  for (const d of DEFINITIONS) {
    for (const t of [...d.triggers, ...d.esm]) {
      if (t.startsWith('node:') || isBuiltin(t) || d.esm.includes(`node:${t}`)) continue;
      if (t.endsWith('/')) prefixes.add(t);
      else exact.add(packageName(t));
    }
  }
  it.for(['esbuild', 'webpack', 'rollup'])('dist/%s.cjs carries exactly the registry-derived list', (b) => {
    const text = readFileSync(join(ROOT, 'dist', `${b}.cjs`), 'utf8');
    const m = /\{ exact: (\[[^\]]*\]), prefixes: (\[[^\]]*\]) \}/.exec(text);
    expect(m, 'the list defined at build time').not.toBeNull();
    expect(JSON.parse(m![1]!)).toEqual([...exact].sort());
    expect(JSON.parse(m![2]!)).toEqual([...prefixes].sort());
    // The agent's own packages are there, builtins are not.
    expect(JSON.parse(m![1]!)).toEqual(expect.arrayContaining(['pg', 'express', 'redis', '@redis/client', 'kafkajs']));
    expect(JSON.parse(m![1]!)).not.toContain('http');
  });

  it('adds `modules` and asks `extraInstrumentations` packages for theirs', () => {
    const said: string[] = [];
    const l = moduleList(
      { modules: ['tedious/lib/connection.js'], extraInstrumentations: ['@opentelemetry/instrumentation-generic-pool', 'no-such-instrumentation'], cwd: ROOT },
      (s) => said.push(s),
    );
    expect(l.exact.has('tedious')).toBe(true);
    expect(l.exact.has('generic-pool')).toBe(true);
    expect(said).toEqual([expect.stringMatching(/extra instrumentation "no-such-instrumentation" could not be loaded at build time/)]);
  });
});

describe('classify: the name require-in-the-middle would report', () => {
  it.for([
    ['pg/lib/index.js', 'pg'],
    ['pg/lib/client.js', 'pg/lib/client.js'],
    ['pg-pool/index.js', 'pg-pool'],
    ['express/index.js', 'express'],
    ['@redis/client/dist/index.js', '@redis/client'],
    ['@redis/client/dist/lib/client/index.js', '@redis/client/dist/lib/client/index.js'],
  ])('%s -> %s', ([file, name]) => {
    const pkg = packageName(file!);
    expect(classify(join(NM, file!), list)).toEqual({ pkg, version: version(pkg), name });
  });

  it('files of other packages, and files outside node_modules, are not wrapped', () => {
    expect(classify(join(NM, 'pg-protocol/dist/index.js'), list)).toBeUndefined();
    expect(classify(join(ROOT, 'src/agent.ts'), list)).toBeUndefined();
  });
});

describe('isCommonJs and resolveCommonJs', () => {
  it('tells CommonJS from ES module files by extension, then syntax', () => {
    const read = (f: string): string => readFileSync(join(NM, f), 'utf8');
    expect(isCommonJs(join(NM, 'pg/lib/index.js'), read('pg/lib/index.js'))).toBe(true);
    expect(isCommonJs(join(NM, 'pg/esm/index.mjs'), read('pg/esm/index.mjs'))).toBe(false);
    expect(isCommonJs(join(NM, 'bullmq/dist/esm/index.js'), read('bullmq/dist/esm/index.js'))).toBe(false);
    expect(isCommonJs(join(NM, 'bullmq/dist/cjs/index.js'), read('bullmq/dist/cjs/index.js'))).toBe(true);
  });

  it('sends a bare import to the CommonJS build require() loads, and leaves ESM-only packages alone', () => {
    expect(resolveCommonJs('pg', ROOT)).toBe(join(NM, 'pg/lib/index.js'));
    expect(resolveCommonJs('bullmq', ROOT)).toBe(join(NM, 'bullmq/dist/cjs/index.js'));
    expect(resolveCommonJs('@nestjs/core', ROOT)).toBeUndefined();
    expect(resolveCommonJs('not-installed-anywhere', ROOT)).toBeUndefined();
  });
});

describe('the appended line', () => {
  const f = { pkg: 'pg', version: '8.23.1', name: 'pg/lib/client.js' };
  const run = (hook: unknown): unknown => {
    const module = { exports: { original: true } };
    const g: Record<symbol, unknown> = {};
    if (hook) g[Symbol.for(HOOK_KEY)] = hook;
    runInNewContext(`exports = module.exports;${trailer(f)}`, { module, globalThis: g, Symbol });
    return module.exports;
  };

  it('hands module.exports, the name, version and package to the agent, and keeps what it returns', () => {
    const calls: unknown[][] = [];
    const out = run((...a: unknown[]) => (calls.push(a), { patched: true }));
    expect(calls).toEqual([[{ original: true }, 'pg/lib/client.js', '8.23.1', 'pg']]);
    expect(out).toEqual({ patched: true });
  });

  it('does nothing without the agent', () => {
    expect(run(undefined)).toEqual({ original: true });
  });

  it('adds lines only after the file: a source map of the file stays right', () => {
    expect(trailer(f).startsWith('\n')).toBe(true);
  });
});

describe('the startup check (bundle-check.ts)', () => {
  const instrumented = (p: string): boolean => ['pg', 'express'].includes(p);
  const write = (name: string, text: string): string => {
    const file = join(tmp, name);
    writeFileSync(file, text);
    return file;
  };

  it('an esbuild bundle without the marker: the bundled packages are named', () => {
    const v = inspectBundle(write('a.js', 'var __commonJS = () => {};\n// node_modules/pg/lib/index.js\n// node_modules/left-pad/index.js\n'), instrumented);
    expect(v).toEqual({ file: join(tmp, 'a.js'), bundler: 'esbuild', plugin: false, packages: ['pg'] });
    expect(bundleWarning(v)).toMatch(/a\.js is an esbuild bundle built without the agent's build plugin: pg is bundled into it .* Add @x\/otel-agent\/esbuild/);
  });

  it("the plugin's marker statement silences it", () => {
    const v = inspectBundle(write('b.js', `${banner('esbuild')}\nvar __commonJS = () => {};\n// node_modules/pg/lib/index.js\n`), instrumented);
    expect(v?.plugin).toBe(true);
    expect(bundleWarning(v)).toBeUndefined();
  });

  it('an ordinary app file is not a bundle', () => {
    expect(inspectBundle(write('c.mjs', "import pg from 'pg';\nconsole.log(pg);\n"), instrumented)).toBeUndefined();
    expect(inspectBundle(undefined, instrumented)).toBeUndefined();
  });
});
