// Builds dist/ with esbuild. Runs under any Node >= 18 (it is the `prepare`
// script, so it runs under the machine's own node on `npm install`).
//
// Layout (why: startup cost and one copy of each stateful OpenTelemetry package):
//   dist/register.cjs / register.mjs  thin entry (CJS / ESM)
//   dist/agent.cjs                    SDK + pipeline, loaded only when the agent runs
//   dist/vendor/api.cjs               the one @opentelemetry/api copy everything shares
//   dist/vendor/instrumentation.cjs   the one @opentelemetry/instrumentation copy (one require hook)
//   dist/vendor/grpc.cjs              @grpc/grpc-js, loaded only when an exporter speaks gRPC
//   dist/instr/<name>.cjs             each instrumentation, loaded when its module is first loaded
//   dist/signals.cjs / metrics.cjs    logs / metrics pipelines, loaded only when asked for
//   dist/cli.cjs                      `otel-agent doctor`
//   dist/config-file.cjs              OTEL_CONFIG_FILE (YAML), loaded only when a file is named
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FINAL = join(ROOT, 'dist');
// Build into a fresh folder and swap it in at the end, so a test running
// against dist/ while someone rebuilds never sees a half-written tree.
const DIST = join(ROOT, `.dist-build-${process.pid}`);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const sdkVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules/@opentelemetry/sdk-trace/package.json'), 'utf8')).version;

const SHARED = {
  '@opentelemetry/api': 'vendor/api.cjs',
  '@opentelemetry/instrumentation': 'vendor/instrumentation.cjs',
  // Bundled rather than a dependency: installed, @grpc/grpc-js and what it pulls in
  // (@grpc/proto-loader, protobufjs, yargs, @types/node) are 11 MB, three times the
  // whole of dist/; bundled, the part a client uses is well under 1 MB. A private copy
  // also keeps the exporter's own calls apart from an app's @grpc/grpc-js.
  '@grpc/grpc-js': 'vendor/grpc.cjs',
};

/** Maps the shared packages to the shared files, relative to the file being built. */
function sharedPlugin(outfile) {
  return {
    name: 'shared',
    setup(b) {
      // Also rewrites require.resolve('@grpc/grpc-js'), which the gRPC exporter hands to its exit-time child.
      b.onResolve({ filter: /^(@opentelemetry\/(api|instrumentation)|@grpc\/grpc-js)$/ }, (args) => {
        const target = join(DIST, SHARED[args.path]);
        if (resolve(outfile) === target) return undefined;
        let rel = relative(dirname(outfile), target);
        if (!rel.startsWith('.')) rel = './' + rel;
        return { path: rel, external: true };
      });
    },
  };
}

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  logLevel: 'warning',
  legalComments: 'none',
  // No keepNames: the output is not minified, so functions and classes keep
  // their names anyway (V8 infers them from the declarations). keepNames wrapped
  // every function expression in a __name() call that does a defineProperty,
  // and closures created per request (context binding wraps each listener)
  // paid it every time: binding an emitter, two listeners and a function to a
  // span's context measured 2.5 µs instead of 2.9.
  keepNames: false,
  // import-in-the-middle must stay one module instance shared with the ESM loader it installs
  // (the loader is registered by file URL and runs in its own thread): it is the one
  // runtime dependency. Everything else is bundled.
  external: ['import-in-the-middle', 'import-in-the-middle/*', './agent.cjs'],
  define: {
    __AGENT_VERSION__: JSON.stringify(pkg.version),
    __SDK_VERSION__: JSON.stringify(sdkVersion),
  },
};

/**
 * @grpc/proto-loader (and protobufjs under it) is only required when a gRPC server
 * offers the channelz or ORCA services; the exporter is a client and never does.
 * A stub keeps it out of the bundle and says so if it is ever reached.
 */
const noProtoLoader = {
  name: 'no-proto-loader',
  setup(b) {
    b.onResolve({ filter: /^@grpc\/proto-loader$/ }, () => ({ path: 'proto-loader', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents:
        "exports.loadSync = () => { throw new Error('@grpc/proto-loader is not bundled with @x/otel-agent (gRPC channelz/ORCA services are server features the exporter does not use)'); };",
      loader: 'js',
    }));
  },
};

async function one(entry, out) {
  const outfile = join(DIST, out);
  await build({ ...common, entryPoints: [entry], outfile, plugins: [sharedPlugin(outfile), noProtoLoader] });
}

// The instrumentations come from the one registry (src/instrumentations/registry.ts): it is
// bundled to a temporary CommonJS file and required, so there is no second list here.
const REGISTRY_OUT = join(ROOT, `.registry-build-${process.pid}.cjs`);
await build({ ...common, entryPoints: [join(ROOT, 'src/instrumentations/registry.ts')], outfile: REGISTRY_OUT, logLevel: 'error' });
let DEFINITIONS;
try {
  ({ DEFINITIONS } = createRequire(import.meta.url)(REGISTRY_OUT));
} finally {
  rmSync(REGISTRY_OUT, { force: true });
}
const rootRequire = createRequire(join(ROOT, 'package.json'));
/** [entry point, dist file] for each instrumentation and its extra bundles. */
function instrumentationJobs(d) {
  const folder = join(ROOT, 'src/instrumentations', d.name);
  const s = d.source;
  // commonjs: the package's CommonJS build (what require() resolves) instead of its ESM build.
  const main = s.upstream ? (s.commonjs ? rootRequire.resolve(s.upstream) : s.upstream) : join(folder, s.own);
  const out = [[main, `instr/${d.name}.cjs`]];
  for (const f of d.bundles ?? []) out.push([join(folder, f), `instr/${d.name}-${f.replace(/\.ts$/, '')}.cjs`]);
  return out;
}

// The build plugins (@x/otel-agent/esbuild, /webpack, /rollup) get the packages to wrap from the
// same registry: every non-builtin trigger and ESM specifier, by package (prefix triggers stay prefixes).
const { isBuiltin } = createRequire(import.meta.url)('node:module');
const pkgOf = (s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]);
const bundlerModules = { exact: new Set(), prefixes: new Set() };
for (const d of DEFINITIONS) {
  for (const t of [...d.triggers, ...d.esm]) {
    // `sqlite` is node:sqlite (a builtin reachable only with the prefix), not the npm package.
    if (t.startsWith('node:') || isBuiltin(t) || d.esm.includes(`node:${t}`)) continue;
    if (t.endsWith('/')) bundlerModules.prefixes.add(t);
    else bundlerModules.exact.add(pkgOf(t));
  }
}
const BUNDLER_MODULES = JSON.stringify({ exact: [...bundlerModules.exact].sort(), prefixes: [...bundlerModules.prefixes].sort() });
async function plugin(entry, out) {
  const outfile = join(DIST, out);
  await build({ ...common, define: { ...common.define, __BUNDLER_MODULES__: BUNDLER_MODULES }, entryPoints: [entry], outfile });
}
const PLUGINS = [
  // [source, dist name, the named export an ES module config imports besides default]
  ['esbuild', 'otelAgent'],
  ['webpack', 'OtelAgentWebpackPlugin'],
  ['rollup', 'otelAgent'],
];

const t0 = Date.now();
rmSync(DIST, { recursive: true, force: true });
mkdirSync(join(DIST, 'instr'), { recursive: true });
const jobs = [
  one('@opentelemetry/api', SHARED['@opentelemetry/api']),
  one('@opentelemetry/instrumentation', SHARED['@opentelemetry/instrumentation']),
  one('@grpc/grpc-js', SHARED['@grpc/grpc-js']),
  one(join(ROOT, 'src/register.ts'), 'register.cjs'),
  one(join(ROOT, 'src/agent.ts'), 'agent.cjs'),
  one(join(ROOT, 'src/env.ts'), 'env-table.cjs'),
  one(join(ROOT, 'src/signals.ts'), 'signals.cjs'),
  // The agent's own metrics SDK and exporters (no @opentelemetry/sdk-metrics): loaded only with metrics on.
  one(join(ROOT, 'src/metrics/index.ts'), 'metrics.cjs'),
  one(join(ROOT, 'src/cli.ts'), 'cli.cjs'),
  // OTEL_CONFIG_FILE support with its YAML parser: loaded only when a file is named (src/config/index.ts).
  one(join(ROOT, 'src/config/file/index.ts'), 'config-file.cjs'),
  // Console log correlation: not an instrumentation of a module, loaded by agent.ts.
  one(join(ROOT, 'src/instrumentations/console.ts'), 'instr/console.cjs'),
  // The build plugins run in the app's build, not in the agent: self-contained, no shared files.
  ...PLUGINS.map(([b]) => plugin(join(ROOT, `src/bundlers/${b}.ts`), `${b}.cjs`)),
  plugin(join(ROOT, 'src/bundlers/webpack-loader.ts'), 'webpack-loader.cjs'),
];
for (const d of DEFINITIONS) for (const [entry, out] of instrumentationJobs(d)) jobs.push(one(entry, out));
await Promise.all(jobs);
writeFileSync(
  join(DIST, 'register.mjs'),
  `// ESM entry for \`node --import @x/otel-agent\`: the agent itself is CommonJS so that\n` +
    `// CJS and ESM code in the app share one SDK instance.\n` +
    `import { createRequire } from 'node:module';\ncreateRequire(import.meta.url)('./register.cjs');\n`,
);
for (const [b, named] of PLUGINS) {
  writeFileSync(
    join(DIST, `${b}.mjs`),
    `// ES module entry of @x/otel-agent/${b} (the plugin is CommonJS, see src/bundlers/${b}.ts).\n` +
      `import { createRequire } from 'node:module';\nconst m = createRequire(import.meta.url)('./${b}.cjs');\n` +
      `export const ${named} = m.${named};\nexport default m.${named};\n`,
  );
}
const old = join(ROOT, `.dist-old-${process.pid}`);
if (existsSync(FINAL)) renameSync(FINAL, old);
renameSync(DIST, FINAL);
rmSync(old, { recursive: true, force: true });
console.error(`[build] dist/ built in ${Date.now() - t0} ms`);
