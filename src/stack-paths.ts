/**
 * File paths in exported stack traces (`exception.stacktrace` on span events
 * and log records). A Node stack names every frame's file by its absolute
 * path, which tells a backend the host's directory layout (a home directory,
 * a user name, a checkout path). By default (`OTEL_AGENT_EXCEPTION_PATHS=relative`)
 * each absolute path is shortened to what locates the frame without the
 * host: relative to the app's working directory (`src/routes/users.js:12:5`),
 * from `node_modules/` on for dependencies, else the file name alone. Line and
 * column numbers, function names and Node's own frames (`node:internal/...`)
 * are kept. `full` exports stacks as Node wrote them.
 */

export type ExceptionPaths = 'relative' | 'full';

let mode: ExceptionPaths = 'relative';
let cwd = '';

/** Set once at startup from the config (src/agent.ts). */
export function setExceptionPaths(m: ExceptionPaths, workingDir: string): void {
  mode = m;
  cwd = workingDir.replace(/[\\/]+$/, '');
}

// An absolute path or file:// URL where Node prints one: after a space, `(`, a quote or the start
// of a line, up to the `:line:col`, `)` or the end of the word. A slash inside a word ("1/2",
// "http://host/x") is not a path start.
const ABSOLUTE = /(?<=^|[\s('"`])(?:file:\/\/)?(?:\/|[A-Za-z]:[\\/])[^\s()'"`:]*/gm;

function shortPath(p: string): string {
  let path = p.startsWith('file://') ? safeDecode(p.slice(7)) : p;
  if (/^\/[A-Za-z]:[\\/]/.test(path)) path = path.slice(1); // file:///C:/...
  if (cwd && (path.startsWith(cwd + '/') || path.startsWith(cwd + '\\'))) return path.slice(cwd.length + 1);
  const nm = Math.max(path.lastIndexOf('/node_modules/'), path.lastIndexOf('\\node_modules\\'));
  if (nm >= 0) return path.slice(nm + 1);
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return slash >= 0 ? path.slice(slash + 1) : path;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `stack` with its absolute paths shortened (see above); unchanged in `full` mode. */
export function exportedStack(stack: string): string {
  if (mode === 'full' || (stack.indexOf('/') < 0 && stack.indexOf('\\') < 0)) return stack;
  return stack.replace(ABSOLUTE, shortPath);
}
