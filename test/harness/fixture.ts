/**
 * Runs a fixture app the way a user runs their app: a child `node` process
 * with `--import @x/otel-agent` (or `--require`, or NODE_OPTIONS), a clean
 * environment, and the in-repo OTLP receiver as the endpoint.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = join(ROOT, 'test/fixtures');

export type LoadMode = 'import' | 'require' | 'node-options' | 'none';

export interface FixtureOptions {
  /** Path relative to test/fixtures, e.g. 'core/hello.mjs', or absolute. */
  fixture: string;
  mode?: LoadMode;
  env?: Record<string, string | undefined>;
  args?: string[];
  /** Extra node flags before the entry (after the agent flag). */
  nodeArgs?: string[];
  /** OTLP endpoint base (receiver.url); omitted = whatever env says. */
  endpoint?: string;
  timeoutMs?: number;
  cwd?: string;
}

export interface FixtureResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningFixture {
  child: ChildProcess;
  /** Resolves with the first stdout line starting with READY (e.g. `READY 34567`). */
  ready: Promise<string>;
  result: Promise<FixtureResult>;
}

/** Only what a fixture needs: tests must not depend on the developer's shell. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'CI'];
  const env: Record<string, string> = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  return env;
}

export function agentArgs(mode: LoadMode): { args: string[]; nodeOptions?: string } {
  switch (mode) {
    case 'import':
      return { args: ['--import', '@x/otel-agent'] };
    case 'require':
      return { args: ['--require', '@x/otel-agent'] };
    case 'node-options':
      return { args: [], nodeOptions: '--import @x/otel-agent' };
    default:
      return { args: [] };
  }
}

export function startFixture(o: FixtureOptions): RunningFixture {
  const mode = o.mode ?? 'import';
  const { args, nodeOptions } = agentArgs(mode);
  const entry = o.fixture.startsWith('/') ? o.fixture : join(FIXTURES, o.fixture);
  const env: Record<string, string> = {
    ...baseEnv(),
    OTEL_SERVICE_NAME: 'fixture',
    // Short batch delay so tests do not wait 5 s for spans.
    OTEL_BSP_SCHEDULE_DELAY: '50',
  };
  if (o.endpoint) env.OTEL_EXPORTER_OTLP_ENDPOINT = o.endpoint;
  if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  // Resolving `@x/otel-agent` from the repo root uses the package's own exports (self-reference),
  // exactly as an installed copy would resolve from the app's node_modules.
  const child = spawn(process.execPath, [...args, ...(o.nodeArgs ?? []), entry, ...(o.args ?? [])], {
    cwd: o.cwd ?? ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let readyResolve: (s: string) => void;
  let readyReject: (e: Error) => void;
  const ready = new Promise<string>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const before = stdout;
    stdout += d;
    if (!before.includes('READY')) {
      const line = stdout.split('\n').find((l) => l.startsWith('READY'));
      if (line !== undefined && stdout.includes(line + '\n')) readyResolve(line);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timeoutMs = o.timeoutMs ?? 30_000;
  const result = new Promise<FixtureResult>((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    t.unref();
    child.on('close', (code, signal) => {
      clearTimeout(t);
      readyReject(new Error(`fixture ${o.fixture} exited (code ${code}, signal ${signal}) before READY\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      res({ code, signal, stdout, stderr });
    });
  });
  ready.catch(() => undefined);
  return { child, ready, result };
}

export function runFixture(o: FixtureOptions): Promise<FixtureResult> {
  return startFixture(o).result;
}

/** The two module systems every fixture exists in. */
export const VARIANTS = ['cjs', 'mjs'] as const;
