/**
 * What the three build plugins (esbuild.ts, webpack.ts, rollup.ts) share; none
 * of it knows a bundler. Runs in the app's build, on whatever Node the build
 * uses, so it uses plain `node:` imports (no process.getBuiltinModule).
 *
 * - Which packages: the agent's registry (src/instrumentations/registry.ts),
 *   turned into a list when the agent itself is built (scripts/build.mjs
 *   defines __BUNDLER_MODULES__), plus what the user adds (`modules`,
 *   `extraInstrumentations`).
 * - Wrapping: every CommonJS file of such a package gets a one-line trailer
 *   that hands its `module.exports` to the agent at run time with the name
 *   require-in-the-middle would have reported (`pg` for the package's main
 *   file, `pg/lib/client.js` for a file inside it) and the version read from
 *   its package.json now. Every file, not only the ones patched today: which
 *   files an instrumentation patches depends on the version it meets, and a
 *   trailer costs ~150 bytes.
 * - ES module files of those packages are not wrapped (their bindings cannot
 *   be replaced from outside); bare imports of those packages are resolved to
 *   the CommonJS build instead, as require() would, when the package has one.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { packageName } from '../package-name';

declare const __BUNDLER_MODULES__: { exact: string[]; prefixes: string[] } | undefined;

/** The symbol the agent's run-time hook (src/bundled.ts) sits under; keep both in step. */
export const HOOK_KEY = '@x/otel-agent/bundled-module';
/** A statement put first in each output file: the agent's startup check reads it (docs/bundlers.md). */
export const MARKER = '@x/otel-agent/bundle';

export interface PluginOptions {
  /**
   * `wrap` (the default): instrumented packages stay in the bundle, wrapped.
   * `external`: they are left out of the bundle (the app then ships them in node_modules).
   */
  mode?: 'wrap' | 'external';
  /** More package names to treat as instrumented (the modules your OTEL_AGENT_EXTRA_INSTRUMENTATIONS packages patch). */
  modules?: string[];
  /**
   * Instrumentation packages (as in OTEL_AGENT_EXTRA_INSTRUMENTATIONS) to ask, at build time, which modules they patch.
   * Default: the OTEL_AGENT_EXTRA_INSTRUMENTATIONS of the build's environment.
   */
  extraInstrumentations?: string[];
  /** Where to resolve extraInstrumentations from; default the working directory. */
  cwd?: string;
  /** Where messages go; default stderr. */
  log?: (line: string) => void;
}

export interface ModuleList {
  exact: Set<string>;
  prefixes: string[];
}

/** The agent's own list, as the agent build wrote it. */
export function agentModules(): { exact: string[]; prefixes: string[] } {
  return typeof __BUNDLER_MODULES__ === 'object' && __BUNDLER_MODULES__ ? __BUNDLER_MODULES__ : { exact: [], prefixes: [] };
}

/** Module names an extra instrumentation package declares, by constructing it disabled (as the agent does at startup). */
function declaredBy(pkg: string, cwd: string, say: (l: string) => void): string[] {
  try {
    const req = createRequire(join(cwd, 'package.json'));
    const mod = req(req.resolve(pkg)) as Record<string, unknown>;
    const out: string[] = [];
    for (const v of Object.values(mod ?? {})) {
      const p = typeof v === 'function' ? (v as { prototype?: Record<string, unknown> }).prototype : undefined;
      if (!p || typeof p.enable !== 'function' || typeof p.setTracerProvider !== 'function') continue;
      const inst = new (v as new (c: object) => { getModuleDefinitions?: () => { name?: unknown }[] })({ enabled: false });
      for (const d of inst.getModuleDefinitions?.() ?? []) if (typeof d.name === 'string' && d.name) out.push(d.name);
    }
    if (out.length === 0) say(`extra instrumentation "${pkg}" declares no module; nothing of it is wrapped`);
    return out;
  } catch (e) {
    say(`extra instrumentation "${pkg}" could not be loaded at build time (${(e as Error).message}); list its modules in the plugin's \`modules\` option`);
    return [];
  }
}

export function moduleList(o: PluginOptions, say: (l: string) => void): ModuleList {
  const own = agentModules();
  const extraPkgs =
    o.extraInstrumentations ??
    // The build's environment, not the agent's: this runs in the bundler, where src/config/ is not loaded.
    // eslint-disable-next-line no-restricted-properties
    (process.env.OTEL_AGENT_EXTRA_INSTRUMENTATIONS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const extra = [...(o.modules ?? []), ...extraPkgs.flatMap((p) => declaredBy(p, o.cwd ?? process.cwd(), say))];
  const exact = new Set(own.exact);
  for (const m of extra) if (!m.startsWith('node:')) exact.add(packageName(m));
  return { exact, prefixes: own.prefixes };
}

export function isInstrumented(pkg: string, list: ModuleList): boolean {
  if (list.exact.has(pkg)) return true;
  for (const p of list.prefixes) if (pkg.startsWith(p)) return true;
  return false;
}

/** A bare specifier (not relative, absolute, a URL or a builtin). */
export function bareSpecifier(spec: string): boolean {
  const c = spec.charCodeAt(0);
  return !(c === 46 || c === 47 || c === 92 || spec.startsWith('node:') || spec.startsWith('file:') || spec.includes('\0') || /^[A-Za-z]:[\\/]/.test(spec));
}

interface PkgInfo {
  name: string;
  dir: string;
  version: string;
  /** Files (relative, `/`-separated) require() would load for the bare package name. */
  mains: Set<string>;
  type?: string;
}

const pkgCache = new Map<string, PkgInfo | null>();

function probe(dir: string, rel: string): string | undefined {
  const base = join(dir, rel);
  for (const c of [base, base + '.js', base + '.cjs', base + '.json', join(base, 'index.js')]) {
    try {
      if (statSync(c).isFile()) return relative(dir, c).split(sep).join('/');
    } catch {
      /* next candidate */
    }
  }
  return undefined;
}

/** The targets `exports["."]` maps to under the conditions require() in Node uses. */
function requireTargets(x: unknown, out: string[]): void {
  if (typeof x === 'string') out.push(x);
  else if (Array.isArray(x)) for (const v of x) requireTargets(v, out);
  else if (x && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    if ('.' in o) return requireTargets(o['.'], out);
    for (const k of ['node', 'require', 'default']) if (k in o) return requireTargets(o[k], out);
  }
}

function readPkg(dir: string, name: string): PkgInfo | null {
  const key = dir;
  const hit = pkgCache.get(key);
  if (hit !== undefined) return hit;
  let info: PkgInfo | null;
  try {
    const j = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown; main?: unknown; exports?: unknown; type?: unknown };
    const mains = new Set<string>();
    const targets: string[] = [];
    if (j.exports !== undefined) requireTargets(j.exports, targets);
    targets.push(typeof j.main === 'string' && j.main ? j.main : 'index.js');
    for (const t of targets) {
      const f = probe(dir, t);
      if (f) mains.add(f);
    }
    info = { name, dir, version: typeof j.version === 'string' ? j.version : '', mains, type: typeof j.type === 'string' ? j.type : undefined };
  } catch {
    info = null;
  }
  pkgCache.set(key, info);
  return info;
}

export interface FileInfo {
  pkg: string;
  version: string;
  /** What require-in-the-middle would call it: the package name for its main file, else `pkg/inner/path.js`. */
  name: string;
}

/** The instrumented package a file on disk belongs to, from the last node_modules segment of its path. */
export function classify(file: string, list: ModuleList): FileInfo | undefined {
  const norm = file.split(sep).join('/');
  const i = norm.lastIndexOf('/node_modules/');
  if (i < 0) return undefined;
  const rest = norm.slice(i + '/node_modules/'.length);
  const pkg = packageName(rest);
  if (!pkg || pkg.startsWith('.') || !isInstrumented(pkg, list)) return undefined;
  const dir = norm.slice(0, i + '/node_modules/'.length + pkg.length);
  const info = readPkg(dir, pkg);
  if (!info) return undefined;
  const inner = rest.slice(pkg.length + 1);
  return { pkg, version: info.version, name: info.mains.has(inner) ? pkg : `${pkg}/${inner}` };
}

/** CommonJS or ES module source: by extension, then by the syntax the file uses. */
export function isCommonJs(file: string, code: string): boolean {
  if (file.endsWith('.mjs')) return false;
  if (file.endsWith('.cjs')) return true;
  if (!/\.js$/.test(file)) return false;
  if (/^\s*(?:import\s*[\w*{'"]|export\s+(?:\*|\{|default|const|let|var|function|class|async))/m.test(code)) return false;
  return /\b(?:module\.exports|exports\.|exports\[|require\s*\(|Object\.defineProperty\(\s*exports)/.test(code);
}

/** The line appended to a wrapped CommonJS file; it changes no earlier line, so source maps stay right. */
export function trailer(f: FileInfo): string {
  const args = [f.name, f.version, f.pkg].map((s) => JSON.stringify(s)).join(',');
  return `\n;(function(h){if(typeof h==="function")module.exports=h(module.exports,${args})})(globalThis[Symbol.for(${JSON.stringify(HOOK_KEY)})]);\n`;
}

/** The statement the plugins put at the top of each output file (a statement, so minifiers keep it). */
export function banner(bundler: string): string {
  return `globalThis[Symbol.for(${JSON.stringify(MARKER)})]=${JSON.stringify(bundler)};`;
}

/**
 * Where require() would resolve `spec` from `importer`'s directory, when that
 * is a CommonJS file; undefined lets the bundler resolve as it would.
 */
export function resolveCommonJs(spec: string, importerDir: string): string | undefined {
  try {
    const file = createRequire(join(importerDir, 'noop.js')).resolve(spec);
    if (!existsSync(file) || !/\.(?:c?js)$/.test(file)) return undefined;
    const code = readFileSync(file, 'utf8');
    return isCommonJs(file, code) || !file.endsWith('.js') ? file : undefined;
  } catch {
    return undefined;
  }
}

/** Collects what a build wrapped or left out and says it once, at the end. */
export class Summary {
  private readonly wrapped = new Map<string, string>();
  private readonly externals = new Map<string, string>();
  constructor(
    private readonly bundler: string,
    private readonly say: (l: string) => void,
  ) {}

  /** A new build (watch mode rebuilds): forget the last one. */
  start(): void {
    this.wrapped.clear();
    this.externals.clear();
  }

  wrappedFile(f: FileInfo): void {
    this.wrapped.set(f.pkg, f.version);
  }

  external(pkg: string, importerDir: string): void {
    if (this.externals.has(pkg)) return;
    let version = '';
    try {
      const file = createRequire(join(importerDir, 'noop.js')).resolve(pkg).split(sep).join('/');
      const marker = `/node_modules/${pkg}/`;
      const i = file.lastIndexOf(marker);
      if (i >= 0) version = (JSON.parse(readFileSync(file.slice(0, i + marker.length) + 'package.json', 'utf8')) as { version?: string }).version ?? '';
    } catch {
      /* a package without an exported package.json: named without a version */
    }
    this.externals.set(pkg, version);
  }

  end(): void {
    if (this.externals.size) {
      const list = [...this.externals].map(([p, v]) => (v ? `${p}@${v}` : p)).sort();
      this.say(
        `[@x/otel-agent/${this.bundler}] left out of the bundle so the agent can patch them at run time: ${list.join(', ')}. ` +
          `Ship them next to the bundle, e.g. npm install --omit=dev ${list.join(' ')}`,
      );
    }
  }

  /** For tests and debugging: the packages wrapped in the last build. */
  wrappedPackages(): string[] {
    return [...this.wrapped.keys()].sort();
  }
}

export function makeSay(o: PluginOptions): (l: string) => void {
  return o.log ?? ((l) => void process.stderr.write(l + '\n'));
}
