/**
 * "Is the app's entry file a bundle the agent cannot see into?" Asked once at
 * startup (agent.ts warns) and by the doctor (which explains the fix).
 *
 * Cheap on purpose: it reads at most the first READ_LIMIT bytes of the entry
 * file, once, and decides from what bundlers leave in their output:
 *
 * - The build plugins put a marker statement at the top of each output file
 *   (src/bundlers/core.ts, banner()): with it, the bundle is fine.
 * - esbuild (not minified) writes a `// node_modules/<pkg>/<file>` comment
 *   above each bundled module, webpack (development, or named module ids)
 *   keys its modules by `./node_modules/<pkg>/<file>`: an instrumented
 *   package named that way is definitely inside, and is named in the message.
 * - Otherwise the runtime helpers give the bundler away (`__commonJS`,
 *   `__webpack_require__`, `getDefaultExportFromCjs`), and the message says
 *   the bundled packages, if any, are not traced.
 *
 * Not detected: a minified bundle whose helpers were renamed. Documented in
 * docs/bundlers.md.
 */
import type * as fsT from 'node:fs';
import { packageName } from './package-name';

const fs = process.getBuiltinModule('node:fs') as typeof fsT;

/** 4 MB: a large bundle's first modules are enough to recognise it. */
const READ_LIMIT = 4 * 1024 * 1024;
const MARKER = '@x/otel-agent/bundle';

export interface BundleVerdict {
  file: string;
  bundler: 'esbuild' | 'webpack' | 'rollup' | 'unknown';
  /** Built with one of the agent's plugins (the marker is there). */
  plugin: boolean;
  /** Instrumented packages the file names as bundled (non-minified output only). */
  packages: string[];
}

const SIGNS: [BundleVerdict['bundler'], RegExp][] = [
  ['webpack', /__webpack_require__|__webpack_modules__/],
  ['esbuild', /\b__commonJS\b|\b__toESM\b|^\/\/ node_modules\//m],
  ['rollup', /\bgetDefaultExportFromCjs\b|\bcommonjsGlobal\b|\bgetAugmentedNamespace\b/],
];

function head(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size, READ_LIMIT));
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('utf8', 0, n);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** undefined: not a bundle (or not readable). `instrumented` says whether a package name belongs to an instrumentation. */
export function inspectBundle(file: string | undefined, instrumented: (pkg: string) => boolean): BundleVerdict | undefined {
  if (!file || !/\.[cm]?js$/.test(file)) return undefined;
  const text = head(file);
  if (!text) return undefined;
  const top = text.slice(0, 4096);
  const plugin = top.includes(MARKER);
  const packages = new Set<string>();
  for (const m of text.matchAll(/(?:^\/\/ |["'`]\.\/)node_modules\/((?:@[\w.-]+\/)?[\w.-]+)\//gm)) {
    const pkg = packageName(m[1] ?? '');
    if (instrumented(pkg)) packages.add(pkg);
  }
  const sign = SIGNS.find(([, re]) => re.test(text));
  if (!sign && !plugin && packages.size === 0) return undefined;
  return { file, bundler: sign?.[0] ?? 'unknown', plugin, packages: [...packages].sort() };
}

const PLUGIN_OF: Record<BundleVerdict['bundler'], string> = {
  esbuild: '@x/otel-agent/esbuild',
  webpack: '@x/otel-agent/webpack',
  rollup: '@x/otel-agent/rollup',
  unknown: 'the plugin for your bundler (@x/otel-agent/esbuild, /webpack or /rollup)',
};

/** The one line said at startup, or undefined when there is nothing to say. */
export function bundleWarning(v: BundleVerdict | undefined): string | undefined {
  if (!v || v.plugin) return undefined;
  const what = v.bundler === 'unknown' ? 'a bundle' : `${v.bundler === 'esbuild' ? 'an' : 'a'} ${v.bundler} bundle`;
  const inside = v.packages.length
    ? `${v.packages.join(', ')} ${v.packages.length > 1 ? 'are' : 'is'} bundled into it and cannot be patched at run time, so ${v.packages.length > 1 ? 'they are' : 'it is'} not traced`
    : 'packages bundled into it (not loaded from node_modules) cannot be patched at run time and are not traced';
  return `${v.file} is ${what} built without the agent's build plugin: ${inside}; only Node builtins are. Add ${PLUGIN_OF[v.bundler]} to the build (docs/bundlers.md)`;
}

const CONFIG_LINE: Record<BundleVerdict['bundler'], string> = {
  esbuild: "import { otelAgent } from '@x/otel-agent/esbuild' and add plugins: [otelAgent()] to the build options",
  webpack: 'take OtelAgentWebpackPlugin from @x/otel-agent/webpack and add new OtelAgentWebpackPlugin() to plugins',
  rollup: "import { otelAgent } from '@x/otel-agent/rollup' and put otelAgent() first in plugins",
  unknown: 'add the plugin of your bundler: @x/otel-agent/esbuild, /webpack or /rollup',
};

/** The doctor's explanation: what is wrong, and the line to add. */
export function bundleAdvice(v: BundleVerdict | undefined): string | undefined {
  const w = bundleWarning(v);
  if (!w || !v) return undefined;
  return `${w}. The fix: ${CONFIG_LINE[v.bundler]}, rebuild, and run the bundle as before (node --import @x/otel-agent ${v.file}); or build with the plugin's mode: 'external' and ship the packages it lists in node_modules`;
}
