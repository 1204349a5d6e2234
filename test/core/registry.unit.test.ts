/**
 * One registry (src/instrumentations/registry.ts) is the only list of
 * instrumentations: the env validation, the build, the doctor and the docs
 * table derive from it. These checks make drift fail: an instrumentation
 * folder that is not registered, a registered one the build did not bundle,
 * one the docs table or the env validation does not know.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from '../harness/fixture';
import { DEFINITIONS } from '../../src/instrumentations/registry';
import { bundleName } from '../../src/instrumentations/definition';
import { instrumentationsTable, TABLE_END, TABLE_START } from '../../src/instrumentations/docs-table';
import { ENTRIES } from '../../src/instrumentations/index';
import { INSTRUMENTATION_NAMES, loadConfig } from '../../src/env';

const SRC = join(ROOT, 'src/instrumentations');

describe('the instrumentation registry', () => {
  it('registers every folder that has a definition.ts, once, under the folder name', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(SRC, d.name, 'definition.ts')))
      .map((d) => d.name)
      .sort();
    expect(DEFINITIONS.map((d) => d.name).sort()).toEqual(folders);
    expect(new Set(DEFINITIONS.map((d) => d.name)).size).toBe(DEFINITIONS.length);
  });

  it("names each definition's code: an installed upstream package or a file in its folder", () => {
    const req = createRequire(join(ROOT, 'package.json'));
    for (const d of DEFINITIONS) {
      const s = d.source;
      if ('upstream' in s) {
        const pkg = s.upstream;
        expect(() => req.resolve(pkg), d.name).not.toThrow();
      } else expect(existsSync(join(SRC, d.name, s.own)), `${d.name}: ${s.own}`).toBe(true);
      for (const f of d.bundles ?? []) expect(existsSync(join(SRC, d.name, f)), `${d.name}: ${f}`).toBe(true);
    }
  });

  it('the build made a dist/instr file for every definition and its bundles, exporting the named class', () => {
    for (const d of DEFINITIONS) {
      const file = join(ROOT, 'dist/instr', `${d.name}.cjs`);
      expect(existsSync(file), `${file} (run npm run build)`).toBe(true);
      for (const f of d.bundles ?? []) expect(existsSync(join(ROOT, 'dist/instr', `${bundleName(d, f)}.cjs`)), `${d.name}: ${f}`).toBe(true);
      const mod = createRequire(file)(file) as Record<string, unknown>;
      expect(typeof mod[d.source.export], `${d.name} exports ${d.source.export}`).toBe('function');
    }
  });

  it('the env validation accepts exactly the registered names', () => {
    expect([...INSTRUMENTATION_NAMES]).toEqual(DEFINITIONS.map((d) => d.name));
    for (const d of DEFINITIONS) {
      const c = loadConfig({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: d.name });
      expect(c.warnings, d.name).toEqual([]);
      expect(c.disabledInstrumentations).toEqual([d.name]);
    }
    expect(loadConfig({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'no-such-instrumentation' }).warnings.join('\n')).toContain('OTEL_NODE_DISABLED_INSTRUMENTATIONS');
  });

  it('every definition with a factory is activated by a module load (ENTRIES), the others have no triggers', () => {
    expect(ENTRIES.map((e) => e.name)).toEqual(DEFINITIONS.filter((d) => d.create).map((d) => d.name));
    for (const d of DEFINITIONS) if (!d.create) expect(d.triggers, d.name).toEqual([]);
    for (const e of ENTRIES) expect(e.triggers.length, e.name).toBeGreaterThan(0);
  });

  it('docs/instrumentations.md has the generated table, one row per definition, linking pages that exist', () => {
    const md = readFileSync(join(ROOT, 'docs/instrumentations.md'), 'utf8');
    const i = md.indexOf(TABLE_START);
    expect(i, 'markers missing').toBeGreaterThanOrEqual(0);
    const block = md.slice(i + TABLE_START.length, md.indexOf(TABLE_END)).trim();
    expect(block, 'run node scripts/instrumentations-table.mjs --write').toBe(instrumentationsTable(DEFINITIONS));
    for (const d of DEFINITIONS) {
      expect(block).toContain(`| \`${d.name}\` |`);
      expect(existsSync(join(ROOT, 'docs', d.docs.page)), d.docs.page).toBe(true);
    }
  });
});
