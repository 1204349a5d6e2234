/**
 * Finds a hook's function in a loaded module and puts the wrapper in its place.
 *
 * - CommonJS: `exports` is module.exports. `default` means module.exports itself
 *   when that is a function (`module.exports = fn`), else its `default` property
 *   (transpiled ESM). A first segment naming module.exports itself
 *   (`module.exports = class TaskQueue`, hooked as `TaskQueue.prototype.submit`)
 *   is accepted too. Replacing module.exports returns the new value.
 * - ESM: `exports` is import-in-the-middle's namespace; assigning to it updates
 *   the live binding every importer sees.
 *
 * Methods (`Class.prototype.method`, `obj.method`) are replaced on their object,
 * which every importer shares, so calls through `this.method()` inside the
 * module are traced too. A plain function the module calls through its own
 * local binding is not: nothing outside the module can reach that binding.
 */
import { isWrapped, wrapFunction, type HookRuntime, type ResolvedHook } from './wrap';

export type ModuleKind = 'cjs' | 'esm';

export interface PatchResult {
  /** The module's exports after patching (differs only when module.exports itself was replaced). */
  exports: unknown;
  /** Why the function was not hooked (undefined when it was). */
  error?: string;
}

type Obj = Record<string | symbol, unknown>;
const isObject = (v: unknown): v is Obj => v !== null && (typeof v === 'object' || typeof v === 'function');

function kindOf(v: unknown): string {
  if (v === undefined) return 'nothing (undefined)';
  if (v === null) return 'null';
  return typeof v === 'function' ? 'a function' : `${Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`}`;
}

function replaceProperty(owner: Obj, key: string, value: unknown, viaSetter: boolean): string | undefined {
  if (viaSetter) {
    owner[key] = value;
    return undefined;
  }
  let d: PropertyDescriptor | undefined;
  for (let o: object | null = owner; o && !d; o = Object.getPrototypeOf(o) as object | null) d = Object.getOwnPropertyDescriptor(o, key);
  const own = Object.getOwnPropertyDescriptor(owner, key);
  if (own && !own.configurable && !(own.writable ?? false)) {
    return own.get ? 'it is a read-only getter (usually a re-export: hook the module that defines the function)' : 'it is a read-only property';
  }
  if (own?.configurable) {
    Object.defineProperty(owner, key, { value, writable: own.writable ?? true, enumerable: own.enumerable ?? true, configurable: true });
  } else if (own) {
    owner[key] = value;
  } else {
    // Inherited (e.g. a method hooked on a subclass prototype): shadow it with the same attributes.
    Object.defineProperty(owner, key, { value, writable: true, enumerable: d?.enumerable ?? false, configurable: true });
  }
  return undefined;
}

export function applyHook(exports: unknown, hook: ResolvedHook, kind: ModuleKind, rt: HookRuntime): PatchResult {
  const segs = [...hook.spec.exportPath];
  const root: unknown = exports;
  let replaceRoot = false;

  const first = segs[0]!;
  if (kind === 'cjs' && isObject(exports)) {
    if (first === 'default' && typeof exports === 'function') {
      segs.shift();
      replaceRoot = segs.length === 0;
    } else if (first !== 'default' && !(first in exports) && typeof exports === 'function' && (exports as { name?: unknown }).name === first) {
      segs.shift();
      replaceRoot = segs.length === 0;
    }
  } else if (kind === 'esm' && isObject(exports) && first !== 'default' && !(first in exports)) {
    // A CommonJS `module.exports = class TaskQueue` imported from ESM is the namespace's default.
    const d = exports.default;
    if (typeof d === 'function' && d.name === first) segs[0] = 'default';
  }

  if (replaceRoot) {
    const fn = root as (...a: unknown[]) => unknown;
    if (isWrapped(fn)) return { exports };
    const w = wrapFunction(hook, fn, rt);
    // `module.exports = fn; module.exports.default = fn` is common: keep the two the same function.
    if ((w as unknown as Obj).default === fn) (w as unknown as Obj).default = w;
    return { exports: w };
  }

  let owner: unknown = root;
  const walked: string[] = [];
  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i]!;
    walked.push(seg);
    const next = isObject(owner) ? owner[seg] : undefined;
    if (!isObject(next)) return { exports, error: `"${walked.join('.')}" is ${kindOf(next)}, not an object or class` };
    owner = next;
  }
  const last = segs[segs.length - 1]!;
  if (!isObject(owner)) return { exports, error: `the module exports ${kindOf(owner)}` };
  let fn: unknown;
  try {
    fn = owner[last];
  } catch (e) {
    return { exports, error: `reading "${last}" threw (${(e as Error)?.message})` };
  }
  if (typeof fn !== 'function') {
    const known = Object.keys(owner)
      .filter((k) => typeof (owner as Obj)[k] === 'function')
      .slice(0, 12);
    return {
      exports,
      error: `"${hook.spec.exportPath.join('.')}" is ${kindOf(fn)}, not a function` + (known.length ? ` (functions there: ${known.join(', ')})` : ''),
    };
  }
  if (isWrapped(fn)) return { exports };
  const w = wrapFunction(hook, fn as (...a: unknown[]) => unknown, rt);
  const err = replaceProperty(owner, last, w, kind === 'esm' && owner === exports);
  return err ? { exports, error: `"${hook.spec.exportPath.join('.')}" cannot be replaced: ${err}` } : { exports };
}
