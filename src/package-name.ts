/**
 * The package a bare specifier names: `@scope/pkg/sub/file.js` -> `@scope/pkg`,
 * `pkg/sub` -> `pkg`, `node:fs/promises` -> `fs`.
 *
 * Shared by the lazy loader (which calls it on every resolution the app makes,
 * hence the index arithmetic instead of split/join), the module watcher and
 * the queue hooks.
 */
export function packageName(spec: string): string {
  const s = spec.startsWith('node:') ? spec.slice(5) : spec;
  const slash = s.indexOf('/');
  if (s.charCodeAt(0) === 64 /* @ */) {
    const second = slash < 0 ? -1 : s.indexOf('/', slash + 1);
    return second < 0 ? s : s.slice(0, second);
  }
  return slash < 0 ? s : s.slice(0, slash);
}
