/**
 * Runs `otel-agent doctor` the way a user does (`node dist/cli.cjs doctor ...`
 * in a clean environment plus the variables a test sets) and builds throwaway
 * app directories for it.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../harness/fixture';
import type { DoctorResult } from '../../src/doctor/index';

export const CLI = join(ROOT, 'dist/cli.cjs');

export interface DoctorRun {
  code: number | null;
  stdout: string;
  stderr: string;
  json?: DoctorResult;
}

export function doctor(args: string[], o: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<DoctorRun> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'CI']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  Object.assign(env, o.env);
  const child = spawn(process.execPath, [CLI, 'doctor', ...args], { cwd: o.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const t = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 40_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(t);
      let json: DoctorResult | undefined;
      if (args.includes('--json')) {
        try {
          json = JSON.parse(stdout) as DoctorResult;
        } catch {
          json = undefined;
        }
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

/** A temp app directory: package.json, node_modules entries (fake or linked to the repo's), and fixture files copied in. */
export function appDir(o: {
  dependencies: Record<string, string>;
  fake?: Record<string, { version: string; main: string }>;
  link?: string[];
  fixtures?: string[];
}): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'doctor-app-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'doctor-test-app', version: '1.0.0', dependencies: o.dependencies }));
  for (const [name, f] of Object.entries(o.fake ?? {})) {
    const p = join(dir, 'node_modules', name);
    mkdirSync(p, { recursive: true });
    writeFileSync(join(p, 'package.json'), JSON.stringify({ name, version: f.version, main: 'index.js' }));
    writeFileSync(join(p, 'index.js'), f.main);
  }
  for (const name of o.link ?? []) {
    const p = join(dir, 'node_modules', name);
    mkdirSync(join(p, '..'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', name), p, 'dir');
  }
  for (const f of o.fixtures ?? []) copyFileSync(join(FIXTURES, f), join(dir, f.split('/').pop()!));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A local port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
