/**
 * For `otel-agent doctor` only (OTEL_AGENT_DOCTOR_REPORT set): who installed
 * the SIGTERM/SIGINT/SIGHUP listeners of the app's process, so the report can
 * say "signal-exit 4.1.0, exit-hook 5.1.0, the app (server.js:12)" next to
 * what the agent did when the signal came (exit.ts's signalSeen hook).
 *
 * Observed through process's own 'newListener' event (nothing is patched;
 * the listener it gets is not kept): the stack at that moment names the
 * caller of process.on(). Only package names, versions and a file's base
 * name go into the report, which stays on the machine.
 */
import type * as fsT from 'node:fs';
import type { SignalListeners } from './exit-signals';

export const WATCHED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

export type ListenerKind = 'agent' | 'signal-exit v3' | 'signal-exit v4' | 'package' | 'app' | 'unknown';

export interface SignalListenerRecord {
  signal: string;
  kind: ListenerKind;
  /** `signal-exit 4.1.0`, `exit-hook 5.1.0`, `the app (server.mjs:12)`, `installed before the agent started`. */
  owner: string;
}

export interface SignalSeenRecord extends SignalListeners {
  signal: string;
  /** false: another listener decided what the signal meant; true: the agent flushed and re-raised (or let signal-exit). */
  agentActed: boolean;
  /** The listeners at that moment, the agent's own left out. */
  listeners: string[];
}

const fs = process.getBuiltinModule('node:fs') as typeof fsT;
const PKG = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/g;

function packageOf(file: string): { name: string; version?: string } | undefined {
  let last: RegExpExecArray | undefined;
  for (const m of file.matchAll(PKG)) last = m as RegExpExecArray;
  if (!last) return undefined;
  const root = file.slice(0, last.index + last[0].length);
  let name = last[1]!.replace(/\\/g, '/');
  let version: string | undefined;
  try {
    const pj = JSON.parse(fs.readFileSync(`${root}package.json`, 'utf8')) as { name?: string; version?: string };
    if (typeof pj.name === 'string') name = pj.name;
    if (typeof pj.version === 'string') version = pj.version;
  } catch {
    // no package.json where expected: the directory name will do
  }
  return { name, version };
}

/** Names the code that called process.on(): the first frame outside Node and outside the agent's own files. */
export function ownerFromStack(stack: string, agentDir: string): { kind: ListenerKind; owner: string } {
  const frames: { file: string; line: string }[] = [];
  for (const text of stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?[^\s()]+?):(\d+):\d+\)?\s*$/.exec(text.trim());
    if (m) frames.push({ file: m[1]!.replace(/^file:\/\//, ''), line: m[2]! });
  }
  // Our listener, then Node's events code (a package that patched process.emit, as signal-exit
  // does, may sit in between), then the caller of process.on(): the frame after the last events frame.
  let at = frames.length - 1;
  while (at >= 0 && !frames[at]!.file.startsWith('node:events')) at--;
  for (const f of frames.slice(at + 1)) {
    if (f.file.startsWith('node:') || !/[\\/]/.test(f.file)) continue;
    if (f.file.startsWith(agentDir)) return { kind: 'agent', owner: 'the agent' };
    const pkg = packageOf(f.file);
    if (pkg) {
      const major = Number((pkg.version ?? '').split('.')[0]);
      const kind: ListenerKind = pkg.name === 'signal-exit' ? (major >= 4 ? 'signal-exit v4' : 'signal-exit v3') : 'package';
      return { kind, owner: `${pkg.name}${pkg.version ? ' ' + pkg.version : ''}` };
    }
    return { kind: 'app', owner: `the app (${f.file.split(/[\\/]/).pop()}:${f.line})` };
  }
  return { kind: 'unknown', owner: 'unknown code' };
}

/** Starts watching; `records()` lists the listeners present now, in the order Node calls them. */
export function watchSignalListeners(agentDir: string, changed: () => void): { records(): SignalListenerRecord[] } {
  const owners = new WeakMap<object, { kind: ListenerKind; owner: string }>();
  const watched = new Set<string>(WATCHED);
  process.on('newListener', (event: string | symbol, listener: object) => {
    if (typeof event !== 'string' || !watched.has(event)) return;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 30;
    const stack = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    try {
      owners.set(listener, ownerFromStack(stack, agentDir));
    } catch {
      // a listener we cannot name is listed as unknown
    }
    changed();
  });
  return {
    records() {
      const out: SignalListenerRecord[] = [];
      for (const signal of WATCHED) {
        for (const l of process.listeners(signal)) {
          const o = owners.get(l) ?? { kind: 'unknown' as const, owner: 'installed before the agent started' };
          out.push({ signal, kind: o.kind, owner: o.owner });
        }
      }
      return out;
    },
  };
}
