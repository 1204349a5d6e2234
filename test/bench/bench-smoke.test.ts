/**
 * `npm run bench` must keep working: a short startup-only run produces a
 * well-formed report. Nothing here looks at how fast anything was (the machine
 * running the tests is not a benchmark machine); only at the report's shape.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../harness/fixture';

const NUM = String.raw`\d+(?:\.\d+)?`;
const CELL = new RegExp(`^${NUM}(?: \\(${NUM}\\.\\.${NUM}\\))?$`); // "45" or "45 (40..52)"
const DELTA = new RegExp(`^[+−]${NUM} (?:ms|MB)$`);

/** Rows of the markdown table that follows `heading`, as arrays of trimmed cells. */
function tableAfter(md: string, heading: string): string[][] {
  const lines = md.slice(md.indexOf(heading)).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (let i = start; i < lines.length && lines[i]!.startsWith('|'); i++)
    rows.push(
      lines[i]!.split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  return rows;
}

describe('bench/run.mjs --quick', () => {
  it('writes a startup table with a row per configuration, versions and machine facts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'otel-agent-bench-smoke-'));
    try {
      const out = join(dir, 'RESULTS.md');
      const r = spawnSync(
        process.execPath,
        [join(ROOT, 'bench/run.mjs'), '--quick', '--only=startup', '--rounds=1', '--configs=bare,agent,disabled', `--out=${out}`],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 50_000,
        },
      );
      expect(r.status, r.stderr).toBe(0);
      const md = readFileSync(out, 'utf8');

      expect(md).toMatch(/^# Benchmark results/);
      expect(md).toContain(`| node | ${process.version} |`);
      expect(md).toMatch(new RegExp(`\\| machine \\| ${cpus().length} CPU\\(s\\)`));
      expect(md).toMatch(/\| @x\/otel-agent \| \d+\.\d+\.\d+/);
      expect(md).toMatch(/\| date \| \d{4}-\d\d-\d\dT/);

      const startup = tableAfter(md, '### Startup');
      const [head, sep, ...rows] = startup;
      expect(head).toEqual([
        'configuration',
        'CJS wall ms',
        'CJS added',
        'CJS peak RSS MB',
        'CJS RSS added',
        'ESM wall ms',
        'ESM added',
        'ESM peak RSS MB',
        'ESM RSS added',
        'notes',
      ]);
      expect(sep!.every((c) => /^-+:?$/.test(c))).toBe(true);
      expect(rows.map((c) => c[0])).toEqual(['bare node', 'this agent, OTLP http/protobuf', 'this agent, OTEL_SDK_DISABLED=true']);
      for (const row of rows) {
        expect(row).toHaveLength(head!.length);
        for (const i of [1, 3, 5, 7]) expect(row[i], `${row[0]}: ${head![i]}`).toMatch(CELL);
        expect(row[9], `${row[0]} had failed runs`).toBe('');
      }
      // Deltas against bare on every row but bare's own.
      for (const row of rows.slice(1)) for (const i of [2, 4, 6, 8]) expect(row[i], `${row[0]}: ${head![i]}`).toMatch(DELTA);

      const targets = tableAfter(md, '## Targets');
      const names = targets.slice(2).map((c) => c[0]);
      expect(names).toEqual(expect.arrayContaining(['startup added, CJS app', 'startup added, ESM app', 'disabled: startup added, CJS app']));
      for (const t of targets.slice(2)) expect(t[3]).toMatch(/^(met|\*\*NOT MET\*\*)$/);

      const json = JSON.parse(readFileSync(join(dir, 'RESULTS.json'), 'utf8')) as { results: { startup: Record<string, { cjs: { wall: number[] } }> } };
      expect(Object.keys(json.results.startup)).toEqual(['bare', 'agent', 'disabled']);
      expect(json.results.startup.agent!.cjs.wall).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
