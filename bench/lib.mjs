// Small helpers for bench/run.mjs: child processes that talk in lines,
// statistics and markdown formatting. Plain Node, no dependencies.
import { spawn } from 'node:child_process';

/** Only what a benchmarked process needs: results must not depend on the caller's shell. */
export function baseEnv(extra = {}) {
  const env = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}

/**
 * Spawns a process whose stdout is line-oriented; `line(prefix)` resolves with
 * the next line starting with prefix (lines are queued until asked for).
 */
export function startProc(bin, args, { env, cwd, timeoutMs = 60_000 } = {}) {
  const child = spawn(bin, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = [];
  const waiters = [];
  let stderr = '';
  let out = '';
  let exited = null;
  const closed = new Promise((resolve) =>
    child.on('close', (code, signal) => {
      exited = { code, signal };
      for (const w of waiters.splice(0)) w.reject(new Error(`process exited (${code ?? signal}) before printing ${w.prefix}; stderr:\n${stderr.slice(-2000)}`));
      resolve(exited);
    }),
  );
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c) => {
    out += c;
    let nl;
    while ((nl = out.indexOf('\n')) >= 0) {
      const l = out.slice(0, nl);
      out = out.slice(nl + 1);
      const i = waiters.findIndex((w) => l.startsWith(w.prefix));
      if (i >= 0) {
        const [w] = waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(l);
      } else lines.push(l);
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c) => {
    if (stderr.length < 1 << 20) stderr += c;
  });
  child.stdin.on('error', () => {});
  return {
    child,
    closed,
    get stderr() {
      return stderr;
    },
    get exited() {
      return exited;
    },
    send(cmd) {
      child.stdin.write(cmd + '\n');
    },
    line(prefix, ms = timeoutMs) {
      const i = lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) return Promise.resolve(lines.splice(i, 1)[0]);
      if (exited) return Promise.reject(new Error(`process already exited (${exited.code ?? exited.signal}); stderr:\n${stderr.slice(-2000)}`));
      return new Promise((resolve, reject) => {
        const w = { prefix, resolve, reject };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no ${prefix} line within ${ms} ms; stderr:\n${stderr.slice(-2000)}`));
        }, ms);
        waiters.push(w);
      });
    },
    /** Ends stdin (the bench apps exit on that), then kills after `graceMs`. */
    async stop(graceMs = 15_000) {
      if (exited) return exited;
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const r = await closed;
      clearTimeout(t);
      return r;
    },
  };
}

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function summary(xs) {
  const v = xs.filter((x) => Number.isFinite(x));
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** `12.3 (11.0..14.1)` with `digits` decimals; a dash when nothing was measured. */
export function fmtRange(xs, digits = 0, scale = 1) {
  const s = summary(xs);
  if (!s.n) return '–';
  const f = (x) => (x * scale).toFixed(digits);
  return s.n === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}..${f(s.max)})`;
}

export function fmtRatio(x, base) {
  if (!Number.isFinite(x) || !Number.isFinite(base) || base === 0) return '–';
  return (x / base).toFixed(2);
}

export function fmtDelta(x, base, digits = 0, unit = '') {
  if (!Number.isFinite(x) || !Number.isFinite(base)) return '–';
  const d = x - base;
  return `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(digits)}${unit}`;
}

export function table(head, rows) {
  const out = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
