/**
 * The short version of `npm run soak` (bench/soak.mjs), for CI: ten seconds
 * of the HTTP fixture at full concurrency with 100% sampling. Every request
 * must be answered correctly, the active handles must stay within what the
 * connections explain, and the app must exit cleanly. No timing assertion,
 * and no memory verdict: ten seconds has no "after warm-up"; the five-minute
 * run's numbers are in docs/guarantees.md ("Soak: five minutes at full concurrency").
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../harness/fixture';

interface Soak {
  ok: boolean;
  problems: string[];
  requests: number;
  answered: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  handles: { maxAfterWarm: number; ceiling: number };
  spans: { ended: number; exported: number; dropped: number; failed: number; sinkReceived: number };
  appExit: { code: number | null; signal: string | null };
}

describe('soak, short (bench/soak.mjs --seconds 10)', () => {
  it('every request answered correctly, handles bounded, clean exit', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [join(ROOT, 'bench/soak.mjs'), '--seconds', '10', '--connections', '32', '--json'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => (out += d));
      c.stderr.on('data', (d: Buffer) => (err += d));
      c.on('close', (n) => resolve({ code: n, stdout: out, stderr: err }));
    });
    const line = stdout.split('\n').find((l) => l.startsWith('SOAK '));
    expect(line, `${stdout}\n${stderr}`).toBeDefined();
    const s = JSON.parse(line!.slice(5)) as Soak;
    expect(s.requests).toBeGreaterThan(0);
    expect({ answered: s.answered, non2xx: s.non2xx, errors: s.errors, timeouts: s.timeouts, mismatches: s.mismatches }).toEqual({
      answered: s.requests,
      non2xx: 0,
      errors: 0,
      timeouts: 0,
      mismatches: 0,
    });
    expect(s.handles.maxAfterWarm).toBeLessThanOrEqual(s.handles.ceiling);
    expect(s.appExit).toEqual({ code: 0, signal: null });
    // Every span is accounted for: exported, or dropped/failed and counted. The counters are
    // read through /stats requests, which are traced themselves: the SERVER spans of the last
    // two (the drain loop's final one and the sample before it) can have ended and still sit
    // in the queue when the final sample is taken.
    expect(s.spans.exported + s.spans.dropped + s.spans.failed).toBeGreaterThanOrEqual(s.spans.ended - 2);
    // And once the app has exited (its exit flush included), those arrived at the collector too.
    expect(s.spans.sinkReceived + s.spans.dropped + s.spans.failed).toBeGreaterThanOrEqual(s.spans.ended);
    expect(s.problems).toEqual([]);
    expect(code).toBe(0);
  }, 60_000);
});
