/**
 * Builds the resource synchronously from the config. We do our own small
 * detectors instead of the upstream ones: they are synchronous (no pending
 * async attributes at startup), never touch the network, and the process
 * detector leaves out command-line arguments, which often carry secrets,
 * and file paths (the executable and the entry are given by file name).
 */
import { hostname, arch, type as osType, release } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, basename, sep } from 'node:path';
import { randomUUID } from 'node:crypto';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { AgentConfig } from './env';
import { AGENT_VERSION } from './version';

function readPackage(p: string): { name?: string; version?: string } {
  try {
    const j = JSON.parse(readFileSync(p, 'utf8')) as { name?: unknown; version?: unknown };
    return {
      name: typeof j.name === 'string' && j.name ? j.name : undefined,
      version: typeof j.version === 'string' ? j.version : undefined,
    };
  } catch {
    return {};
  }
}

const inNodeModules = (dir: string): boolean => dir.split(sep).includes('node_modules');

/**
 * The app's own package.json, for a better default service name than
 * unknown_service: the nearest one going up from the entry file that is not
 * inside node_modules, else the working directory's. An entry under
 * node_modules is a dependency's bin (`node node_modules/next/dist/bin/next`,
 * `node_modules/.bin/*`): its package.json names the tool, not the app.
 */
export function appPackage(entry: string | undefined, cwd = process.cwd()): { name?: string; version?: string } {
  if (!entry) return {};
  let dir = dirname(resolve(entry));
  for (let i = 0; i < 64; i++) {
    const p = join(dir, 'package.json');
    if (!inNodeModules(dir) && existsSync(p)) return readPackage(p);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const own = join(cwd, 'package.json');
  return !inNodeModules(cwd) && existsSync(own) ? readPackage(own) : {};
}

export function buildResource(cfg: AgentConfig, entry = process.argv[1]): Resource {
  const attrs: Record<string, string | number> = {};
  const d = new Set(cfg.resourceDetectors);
  if (d.has('host')) {
    attrs['host.name'] = hostname();
    attrs['host.arch'] = arch() === 'x64' ? 'amd64' : arch();
  }
  if (d.has('os')) {
    attrs['os.type'] = osType().toLowerCase();
    attrs['os.version'] = release();
  }
  if (d.has('process')) {
    attrs['process.pid'] = process.pid;
    // File names, not paths: a path names the user's home, the deploy layout, a CI workspace.
    attrs['process.executable.name'] = basename(process.execPath);
    if (entry) attrs['process.command'] = basename(entry);
    attrs['process.runtime.name'] = 'nodejs';
    attrs['process.runtime.version'] = process.versions.node;
    attrs['process.runtime.description'] = 'Node.js';
  }
  if (d.has('serviceinstance')) attrs['service.instance.id'] = randomUUID();
  if (d.has('env')) Object.assign(attrs, cfg.resourceAttributes);

  const pkg = appPackage(entry);
  const name = cfg.serviceName || cfg.resourceAttributes['service.name'] || pkg.name || 'unknown_service:node';
  attrs['service.name'] = name;
  if (!attrs['service.version'] && pkg.version && !cfg.serviceName && name === pkg.name) attrs['service.version'] = pkg.version;
  attrs['telemetry.sdk.name'] = 'opentelemetry';
  attrs['telemetry.sdk.language'] = 'nodejs';
  attrs['telemetry.sdk.version'] = SDK_VERSION;
  attrs['telemetry.distro.name'] = '@x/otel-agent';
  attrs['telemetry.distro.version'] = AGENT_VERSION;
  return resourceFromAttributes(attrs);
}

declare const __SDK_VERSION__: string;
const SDK_VERSION = typeof __SDK_VERSION__ === 'string' ? __SDK_VERSION__ : 'unknown';
