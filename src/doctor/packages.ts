/**
 * Which installed packages the agent can instrument, at which versions.
 *
 * The module names and supported ranges come from the bundled
 * instrumentations themselves (dist/instr/<name>.cjs, constructed disabled,
 * read through getModuleDefinitions()), so this list cannot drift from what
 * the agent really patches.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isBuiltin } from 'node:module';
import type { AgentConfig } from '../env';
import { ENTRIES, enabledEntries, type Entry } from '../instrumentations/index';
import { supported } from './semver';
import { disabledReason } from '../disabled-reason';

export interface ModuleDefinitionInfo {
  name: string;
  ranges: string[];
  includePrerelease: boolean;
}

export interface InstalledModule {
  name: string;
  version?: string;
  path: string;
  ranges: string[];
  supported: boolean;
}

export interface PackageReport {
  instrumentation: string;
  enabled: boolean;
  disabledReason?: string;
  /** 'builtin': Node's own modules (or diagnostics channels): nothing to install, always supported. */
  status: 'supported' | 'unsupported' | 'not-installed' | 'builtin' | 'unknown';
  modules: InstalledModule[];
  /** The app's package.json depends on one of its packages (or there is no package.json to tell). */
  usedByApp: boolean;
  /** Definitions could not be read from the bundled instrumentation. */
  error?: string;
  /** Nothing to patch: it subscribes to diagnostics channels (undici and global fetch). */
  channels?: boolean;
}

export interface PackagesResult {
  appDir: string;
  packageJson?: string;
  instrumentations: PackageReport[];
}

type Ctor = new (config: object) => { getModuleDefinitions(): { name: string; supportedVersions: string[]; includePrerelease?: boolean }[] };

/** Reads an instrumentation's module definitions from its bundled file in dist/instr. */
export function readDefinitions(distDir: string, entry: Entry): ModuleDefinitionInfo[] {
  const file = join(distDir, 'instr', `${entry.name}.cjs`);
  if (!existsSync(file)) throw new Error(`no bundled instrumentation at ${file}`);
  const mod = require(file) as Record<string, unknown>;
  const out: ModuleDefinitionInfo[] = [];
  let found = false;
  for (const C of Object.values(mod)) {
    if (typeof C !== 'function' || typeof (C as { prototype?: { getModuleDefinitions?: unknown } }).prototype?.getModuleDefinitions !== 'function') continue;
    found = true;
    // enabled: false: read the definitions without hooking anything in the doctor's own process.
    const inst = new (C as Ctor)({ enabled: false });
    for (const d of inst.getModuleDefinitions()) {
      out.push({ name: d.name, ranges: [...d.supportedVersions], includePrerelease: !!d.includePrerelease });
    }
  }
  if (!found) throw new Error(`${file} exports no instrumentation class`);
  return out;
}

function readJson(p: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Where Node would find `name` from `fromDir`: each node_modules folder up to the root. */
function findPackage(name: string, fromDir: string): { dir: string; version?: string } | undefined {
  let dir = fromDir;
  for (;;) {
    const p = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(p)) {
      const j = readJson(p);
      return { dir: dirname(p), version: typeof j?.version === 'string' ? j.version : undefined };
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function realDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

function nearestPackageJson(fromDir: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export function inspectPackages(appDir: string, cfg: AgentConfig, distDir: string): PackagesResult {
  const pj = nearestPackageJson(appDir);
  const pkg = pj ? readJson(pj) : undefined;
  const deps = new Set<string>();
  for (const k of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
    const d = pkg?.[k];
    if (d && typeof d === 'object') for (const n of Object.keys(d)) deps.add(n);
  }
  const on = new Set(enabledEntries(cfg).map((e) => e.name));

  const instrumentations = ENTRIES.map((entry): PackageReport => {
    const enabled = on.has(entry.name);
    const usedByApp = !pkg || entry.triggers.some((t) => (t.endsWith('/') ? [...deps].some((d) => d.startsWith(t)) : deps.has(t)));
    const base: PackageReport = { instrumentation: entry.name, enabled, status: 'unknown', modules: [], usedByApp };
    if (!enabled) base.disabledReason = disabledReason(entry, cfg);
    let defs: ModuleDefinitionInfo[];
    try {
      defs = readDefinitions(distDir, entry);
    } catch (e) {
      base.error = `could not read its supported versions: ${(e as Error).message}`;
      return base;
    }
    const packaged = defs.filter((d) => !isBuiltin(d.name));
    if (packaged.length === 0) {
      base.status = 'builtin';
      if (defs.length === 0) base.channels = true;
      return base;
    }
    // Look where the app resolves each module, and inside the packages that
    // trigger the entry (redis@4+ keeps @redis/client in its own node_modules).
    // From their real path, as Node resolves: with pnpm or a linked package,
    // @redis/client sits next to the real redis folder, not the link.
    const roots = [appDir];
    for (const t of entry.triggers) {
      if (t.endsWith('/')) continue;
      const found = findPackage(t, appDir);
      if (found) roots.push(realDir(found.dir));
    }
    const byName = new Map<string, ModuleDefinitionInfo[]>();
    for (const d of packaged) byName.set(d.name, [...(byName.get(d.name) ?? []), d]);
    for (const [name, ds] of byName) {
      let found: { dir: string; version?: string } | undefined;
      for (const r of roots) if ((found = findPackage(name, r))) break;
      if (!found) continue;
      const ranges = [...new Set(ds.flatMap((d) => d.ranges))];
      base.modules.push({
        name,
        version: found.version,
        path: found.dir,
        ranges,
        supported: ds.some((d) => supported(d.ranges, found.version, d.includePrerelease)),
      });
    }
    base.status = base.modules.length === 0 ? 'not-installed' : base.modules.some((m) => m.supported) ? 'supported' : 'unsupported';
    return base;
  });
  return { appDir, packageJson: pj, instrumentations };
}
