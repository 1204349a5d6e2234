/**
 * What the package tests need from npm and the file system: run npm the way a
 * user does, find out whether the registry answers, and measure a folder.
 */
import { spawn } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface NpmRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment npm gets: the test's own, without what an outer `npm test`
 * exported (npm_config_*, npm_package_*), which would configure the inner npm
 * as if it were running the outer project's script, and without NODE_OPTIONS.
 */
function npmEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^npm_/i.test(k) && k !== 'NODE_OPTIONS') env[k] = v;
  return { ...env, ...extra };
}

export function npm(args: string[], cwd: string, timeoutMs = 240_000): Promise<NpmRun> {
  const child = spawn('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier'], { cwd, env: npmEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    t.unref();
    child.on('error', (e) => {
      clearTimeout(t);
      resolve({ code: null, stdout, stderr: stderr + String(e) });
    });
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * True when the npm registry answers. When it does not: a loud warning and
 * false on a developer machine (the tests that install are skipped), an error
 * in CI (CI=true), where a green run that installed nothing would be a lie.
 */
export async function requireRegistry(what: string, cwd: string): Promise<boolean> {
  const r = await npm(['ping', '--fetch-retries=0', '--fetch-timeout=15000'], cwd, 60_000);
  if (r.code === 0) return true;
  const why = (r.stderr.split('\n').find((l) => /error/i.test(l)) ?? `npm ping exited with ${r.code}`).trim();
  const msg = `the npm registry is not reachable (${why}): ${what} is SKIPPED`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${msg.replace('is SKIPPED', 'cannot run')}`);
  console.warn(`\n!!! ${msg}\n`);
  return false;
}

export interface FolderSize {
  /** Sum of the files' lengths (what `du --apparent-size` counts, roughly). */
  bytes: number;
  /** Disk blocks taken by files and folders (what `du` counts). */
  diskBytes: number;
  files: number;
}

/** Walks a folder without following symlinks. */
export function folderSize(dir: string): FolderSize {
  const out: FolderSize = { bytes: 0, diskBytes: 0, files: 0 };
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.diskBytes += st.blocks * 512;
      if (st.isDirectory()) walk(p);
      else {
        out.bytes += st.size;
        out.files++;
      }
    }
  };
  out.diskBytes += lstatSync(dir).blocks * 512;
  walk(dir);
  return out;
}

export const MB = 1024 * 1024;
