/**
 * Where a child_process call's options object is, and how to hand the call a
 * copy of it with a new `env`, without changing what Node makes of the other
 * arguments. Anything unexpected (a string where options go, too many
 * arguments) is left alone: the call runs unchanged and Node reports its own
 * argument errors, exactly as without the agent.
 */
export type Method = 'spawn' | 'spawnSync' | 'execFile' | 'execFileSync' | 'fork' | 'exec' | 'execSync';

export const METHODS: readonly Method[] = ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'fork', 'exec', 'execSync'];

export interface Located {
  /** The caller's options object, never modified (undefined: none given). */
  options: Record<string, unknown> | undefined;
  /** The arguments to call Node with, options replaced by `withOptions`. */
  rebuild(withOptions: Record<string, unknown>): unknown[];
}

const isOptions = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function locate(method: Method, args: readonly unknown[]): Located | undefined {
  if (args.length === 0) return undefined;
  // exec/execSync take (command, options?, callback?); the others (file, args?, options?, ...).
  const hasList = method !== 'exec' && method !== 'execSync';
  let at = 1;
  if (hasList && (Array.isArray(args[1]) || (args[1] == null && args.length > 2))) at = 2;
  const v = args[at];
  if (isOptions(v)) {
    return { options: v, rebuild: (o) => args.map((a, i) => (i === at ? o : a)) };
  }
  const callbackForm = method === 'execFile' || method === 'exec';
  if (v == null) {
    // Nothing at options' place (or a null placeholder): put ours there.
    return {
      options: undefined,
      rebuild: (o) => {
        const out = [...args];
        if (at === 2 && out[1] == null) out[1] = [];
        out[at] = o;
        return out;
      },
    };
  }
  if (typeof v === 'function' && callbackForm) {
    // (file, callback), (file, args, callback), (command, callback): options go before the callback.
    return {
      options: undefined,
      rebuild: (o) => {
        const head = args.slice(0, at);
        if (hasList && at === 1) head.push([]);
        return [...head, o, ...args.slice(at)];
      },
    };
  }
  return undefined;
}

/** The executable's file name only: a path can name a user or a customer, arguments can hold secrets. */
export function executableName(method: Method, args: readonly unknown[], options: Record<string, unknown> | undefined, platform: string): string {
  const shell = options?.shell;
  if (method === 'exec' || method === 'execSync' || (shell !== undefined && shell !== false)) {
    if (typeof shell === 'string' && shell) return baseName(shell);
    return platform === 'win32' ? 'cmd.exe' : 'sh';
  }
  if (method === 'fork') {
    const execPath = options?.execPath;
    return typeof execPath === 'string' && execPath ? baseName(execPath) : 'node';
  }
  return typeof args[0] === 'string' ? baseName(args[0]) : 'unknown';
}

function baseName(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}
