/**
 * What the built agent loads from node_modules at run time must be exactly
 * what package.json declares as `dependencies`: a package dist/ requires but
 * does not declare breaks an installed agent; one it declares but never
 * requires is install size for nothing. Everything else is bundled in dist/.
 */
import { describe, expect, it } from 'vitest';
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../harness/fixture';

const DIST = join(ROOT, 'dist');

/**
 * Required only inside a try/catch, never installed with the agent: the user
 * adds it for the winston transport (docs/logs.md says so).
 */
const OPTIONAL = { '@opentelemetry/winston-transport': 'docs/logs.md' };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.[cm]?js$/.test(n) ? [p] : [];
  });
}

const BUILTIN = new Set(builtinModules);
const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*/;
/** require("x"), require.resolve("x"), import("x"), and static `import ... from "x"` / `export ... from "x"` at the start of a line. */
const SPECIFIER =
  /\brequire(?:\.resolve)?\(\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']|^\s*(?:import\s+(?:[^;'"(]*?\bfrom\s*)?|export\s[^;'"(]*?\bfrom\s*)["']([^"']+)["']/gm;

/** Bare package names each dist file loads, keyed by package: which files load it. */
function bareRequires(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of files(DIST)) {
    for (const m of readFileSync(f, 'utf8').matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
      const name = PACKAGE_NAME.exec(spec)?.[0];
      // Format strings and the like ('%s') are not package names.
      if (!name || !spec.startsWith(name) || BUILTIN.has(name)) continue;
      const list = out.get(name) ?? [];
      list.push(relative(DIST, f));
      out.set(name, list);
    }
  }
  return out;
}

describe('packages dist/ loads from node_modules', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const declared = Object.keys(pkg.dependencies ?? {}).sort();
  const required = bareRequires();

  it('are all declared dependencies (or the one documented optional package)', () => {
    const undeclared = [...required.keys()].filter((n) => !declared.includes(n) && !(n in OPTIONAL));
    expect(Object.fromEntries(undeclared.map((n) => [n, required.get(n)]))).toEqual({});
  });

  it('are the only dependencies: nothing declared that dist/ never loads', () => {
    expect(declared.filter((n) => !required.has(n))).toEqual([]);
    expect(pkg.optionalDependencies ?? {}).toEqual({});
  });

  it('the optional package is documented and never installed with the agent', () => {
    for (const [name, doc] of Object.entries(OPTIONAL)) {
      expect(readFileSync(join(ROOT, doc), 'utf8')).toContain(name);
      expect(declared).not.toContain(name);
    }
  });
});
