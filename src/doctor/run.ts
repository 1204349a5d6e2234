/**
 * Runs the user's app under the agent for a few seconds, the way they would
 * (`node --import @x/otel-agent <entry>`, their environment, their working
 * directory), and reads back the report the agent writes when
 * OTEL_AGENT_DOCTOR_REPORT names a file: what it patched, and whether its test
 * span reached the configured exporter.
 *
 * The test span goes to the user's real endpoint on purpose: the question is
 * whether THEIR collector receives spans from this app, not whether a local
 * stand-in would.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DoctorReport } from '../doctor-report';

export interface RunResult {
  entry: string;
  command: string;
  exitCode: number | null;
  signal: string | null;
  /** The app was still running when the doctor's time was up (servers usually are). */
  timedOut: boolean;
  durationMs: number;
  report?: DoctorReport;
  /** The agent's own stderr lines ([otel-agent] ...). */
  agentLines: string[];
  /** The app's last stderr lines, when it exited with an error. */
  stderrTail: string[];
}

const CAP = 256 * 1024;

export async function runApp(opts: {
  entry: string;
  args: string[];
  env: Readonly<Record<string, string | undefined>>;
  distDir: string;
  timeoutMs: number;
  graceMs: number;
  cwd: string;
}): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'otel-agent-doctor-'));
  const reportFile = join(dir, 'report.json');
  const register = pathToFileURL(join(opts.distDir, 'register.mjs')).href;
  const nodeArgs = ['--import', register, opts.entry, ...opts.args];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
  env.OTEL_AGENT_DOCTOR_REPORT = reportFile;

  const t0 = Date.now();
  const child = spawn(process.execPath, nodeArgs, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.resume();
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < CAP) stderr += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // SIGTERM lets the agent flush and write its final report; the kill is for apps that ignore it.
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), opts.graceMs).unref();
  }, opts.timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', () => resolve({ code: null, signal: null }));
    child.on('close', (c, s) => resolve({ code: c, signal: s }));
  });
  clearTimeout(timer);

  let report: DoctorReport | undefined;
  try {
    report = JSON.parse(readFileSync(reportFile, 'utf8')) as DoctorReport;
  } catch {
    report = undefined;
  }
  rmSync(dir, { recursive: true, force: true });

  const lines = stderr.split('\n');
  const crashed = !timedOut && code !== 0;
  return {
    entry: opts.entry,
    command: `node --import @x/otel-agent ${[opts.entry, ...opts.args].join(' ')}`,
    exitCode: code,
    signal,
    timedOut,
    durationMs: Date.now() - t0,
    report,
    agentLines: lines.filter((l) => l.startsWith('[otel-agent]')).slice(0, 100),
    stderrTail: crashed ? lines.filter((l) => l && !l.startsWith('[otel-agent]')).slice(-20) : [],
  };
}
