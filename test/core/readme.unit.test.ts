import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from '../harness/fixture';
import { VARS } from '../../src/env';

// The user documentation: README.md (the first ten minutes) and one page per topic in docs/.
const DOCS = join(ROOT, 'docs');
const PAGES = [
  join(ROOT, 'README.md'),
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(DOCS, f)),
];
const read = (p: string): string => readFileSync(p, 'utf8');
const name = (p: string): string => relative(ROOT, p);
const withoutCode = (md: string): string => md.replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of withoutCode(md).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe('README and docs/', () => {
  it('docs/configuration.md documents every supported variable, with the default the code uses', () => {
    const md = read(join(DOCS, 'configuration.md'));
    const start = md.indexOf('<!-- VARS:START -->');
    expect(start, 'VARS markers missing from docs/configuration.md').toBeGreaterThanOrEqual(0);
    const rows = md
      .slice(start, md.indexOf('<!-- VARS:END -->'))
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    const esc = (t: string): string => t.replace(/\|/g, '\\|');
    const hint = '(run npm run build && node scripts/readme-vars.mjs --write)';
    for (const v of VARS) {
      const row = rows.find((l) => l.startsWith(`| \`${v.name}\` |`));
      expect(row, `${v.name} missing from the docs/configuration.md table ${hint}`).toBeDefined();
      expect(row, `${v.name}: default or effect differs from src/config/spec.ts ${hint}`).toBe(`| \`${v.name}\` | ${esc(v.default)} | ${esc(v.effect)} |`);
    }
    expect(rows.length, `the table has rows for variables the agent does not read ${hint}`).toBe(VARS.length);
  });

  it("the README's short variable table names real variables with the code's defaults", () => {
    const md = read(join(ROOT, 'README.md'));
    const section = md.slice(md.indexOf('## Configuration'), md.indexOf('## What is traced'));
    const rows = section.split('\n').filter((l) => l.startsWith('| `OTEL_'));
    expect(rows.length).toBeGreaterThanOrEqual(8);
    for (const row of rows) {
      const [, cell, dflt] = row.split('|').map((c) => c.trim());
      const v = VARS.find((x) => `\`${x.name}\`` === cell);
      expect(v, `${cell} is not a variable the agent reads`).toBeDefined();
      expect(dflt, cell).toBe(v!.default);
    }
  });

  it('quick start commands name files that exist', () => {
    const md = read(join(ROOT, 'README.md'));
    for (const f of [
      'examples/hello.mjs',
      'examples/hello.cjs',
      'examples/jaeger/docker-compose.yaml',
      'examples/tempo/docker-compose.yaml',
      'examples/collector/docker-compose.yaml',
    ]) {
      expect(md).toContain(f);
      expect(() => readFileSync(join(ROOT, f))).not.toThrow();
    }
  });

  it('every page in docs/ is linked from the README', () => {
    const md = read(join(ROOT, 'README.md'));
    for (const p of PAGES.slice(1)) expect(md, `${name(p)} is not linked from README.md`).toContain(`](${name(p)}`);
  });

  it('every link between pages points to a file that exists and a heading it has', () => {
    const broken: string[] = [];
    for (const p of PAGES) {
      for (const m of withoutCode(read(p)).matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z]+:/i.test(link)) continue; // http(s)://, mailto:
        const [file, hash] = link.split('#') as [string, string | undefined];
        const target = file ? resolve(dirname(p), file) : p;
        if (!existsSync(target)) broken.push(`${name(p)}: ${link} (no such file)`);
        else if (hash !== undefined && !anchors(read(target)).has(hash)) broken.push(`${name(p)}: ${link} (no such heading in ${name(target)})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every file of the repository the docs name (tests, sources, examples) exists', () => {
    const missing: string[] = [];
    for (const p of PAGES) {
      for (const m of read(p).matchAll(/`((?:\.ci|bench|examples|scripts|src|test)\/[^`\s]*)`/g)) {
        const path = m[1]!;
        if (/[<>*{}|]/.test(path)) continue; // a pattern such as test/fixtures/<area>/*.cjs
        if (!existsSync(join(ROOT, path))) missing.push(`${name(p)}: ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every OTEL_* variable the docs mention is one the agent reads', () => {
    // Named in the docs, not read by the agent: the first to say the agent ignores it, the second
    // is read by the test runner (scripts/test.mjs).
    const NOT_READ = new Set(['OTEL_SEMCONV_STABILITY_OPT_IN', 'OTEL_AGENT_TEST_NODE']);
    const names = VARS.map((v) => v.name);
    const unknown: string[] = [];
    for (const p of PAGES) {
      for (const m of read(p).matchAll(/\bOTEL_[A-Z0-9_]+/g)) {
        const n = m[0];
        // `OTEL_AGENT_*`, `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`: a prefix, which some variable must have.
        const ok = n.endsWith('_') ? names.some((x) => x.startsWith(n)) : names.includes(n) || NOT_READ.has(n);
        if (!ok) unknown.push(`${name(p)}: ${n}`);
      }
    }
    expect(unknown).toEqual([]);
  });
});
