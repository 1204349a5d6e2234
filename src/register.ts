/**
 * The entry `node --import @x/otel-agent` / `--require @x/otel-agent` loads.
 * Kept thin on purpose: it decides whether the agent runs at all and only then
 * loads the rest.
 *
 * - Idempotent: loading it twice (NODE_OPTIONS plus --import, or --import plus
 *   --require) starts one agent; a global symbol remembers the first.
 * - Main thread only, unless OTEL_AGENT_ENABLE_IN_WORKERS=true.
 * - Not inside a package manager's own process (NODE_OPTIONS reaches `npm start`'s
 *   npm too; only the app it launches should be traced).
 * - OTEL_SDK_DISABLED=true: returns before loading anything else.
 * - Never throws into the host: a failure is one line on stderr, the app runs untraced.
 */
import { earlyFlags } from './env';

const KEY = Symbol.for('@x/otel-agent');

interface GlobalState {
  loadedFrom: string[];
  started: boolean;
  handle?: unknown;
}

const PACKAGE_MANAGER =
  /(?:^|[\\/])(?:npm|npx|pnpm|pnpx|yarn|yarnpkg|corepack|bun)(?:-cli)?(?:\.c?js|\.mjs)?$|[\\/]node_modules[\\/](?:npm|pnpm|yarn|corepack)[\\/]bin[\\/]/;

function isPackageManager(): boolean {
  const script = process.argv[1] ?? '';
  return PACKAGE_MANAGER.test(script);
}

function nodeSupported(v: string): boolean {
  const [maj = 0, min = 0] = v.split('.').map(Number);
  return maj > 22 || (maj === 22 && min >= 15);
}

function main(): void {
  const g = globalThis as unknown as Record<symbol, GlobalState | undefined>;
  const existing = g[KEY];
  if (existing) {
    existing.loadedFrom.push(__filename);
    return;
  }
  const state: GlobalState = { loadedFrom: [__filename], started: false };
  Object.defineProperty(globalThis, KEY, { value: state, enumerable: false, configurable: false, writable: false });

  const flags = earlyFlags();
  if (flags.disabled) return;
  if (isPackageManager()) return;
  if (typeof process.getBuiltinModule !== 'function' || !nodeSupported(process.versions.node)) {
    process.stderr.write(
      `[otel-agent] warning: Node ${process.versions.node} is older than 22.15, which the OpenTelemetry SDK needs; this process runs untraced\n`,
    );
    return;
  }
  const { isMainThread } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
  if (!isMainThread && !flags.enableInWorkers) return;

  try {
    const agent = require('./agent.cjs') as typeof import('./agent');
    state.handle = agent.startAgent();
    state.started = true;
  } catch (e) {
    try {
      process.stderr.write(
        `[otel-agent] error: the agent could not start and this process runs untraced: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      );
    } catch {
      /* nothing left to tell */
    }
  }
}

main();
