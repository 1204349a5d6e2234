// Runs the official W3C Trace Context test suite (github.com/w3c/trace-context, its test/ folder,
// Python with aiohttp: Debian's python3-aiohttp) against test/fixtures/propagation/w3c-service.*
// under the agent, CJS and ESM, with fetch() and with http.request(), at SPEC_LEVEL=2 STRICT_LEVEL=2.
// The suite is not part of this repository (docs/guarantees.md says why and which commit was run):
//   node scripts/w3c-suite.mjs /path/to/trace-context/test
// Env: PYTHON (default /usr/bin/python3 when it exists, else python3). Run `npm run build` first.
// Prints one line per combination and `w3c-suite: N passed, N failed`; exits 1 on any failure.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const suite = process.argv[2] && resolve(process.argv[2]);
if (!suite || !existsSync(join(suite, 'test.py'))) {
  console.error('usage: node scripts/w3c-suite.mjs <trace-context/test folder, the one with test.py>');
  process.exit(2);
}
const python = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const root = resolve(import.meta.dirname, '..');

function freePort() {
  return new Promise((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => r(port));
    });
  });
}

async function startService(ext, client) {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    W3C_CLIENT: client,
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  };
  const flag = ext === 'cjs' ? '--require' : '--import';
  const child = spawn(process.execPath, [flag, '@x/otel-agent', join(root, `test/fixtures/propagation/w3c-service.${ext}`)], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((r, j) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) r(Number(m[1]));
    });
    child.on('exit', (code) => j(new Error(`the service exited (${code}) before READY`)));
  });
  return { child, port };
}

let passed = 0;
let failed = 0;
for (const ext of ['cjs', 'mjs']) {
  for (const client of ['fetch', 'http']) {
    const { child, port } = await startService(ext, client);
    const harnessPort = await freePort();
    const r = spawnSync(python, ['test.py', `http://127.0.0.1:${port}/test`], {
      cwd: suite,
      env: { ...process.env, SPEC_LEVEL: '2', STRICT_LEVEL: '2', HARNESS_PORT: String(harnessPort) },
      encoding: 'utf8',
    });
    child.kill();
    const text = `${r.stdout}\n${r.stderr}`;
    const ran = Number(/^Ran (\d+) tests?/m.exec(text)?.[1] ?? 0);
    const bad = [...text.matchAll(/^(?:FAIL|ERROR): (\S+)/gm)].map((m) => m[1]);
    const ok = r.status === 0 && ran > 0;
    passed += ok ? ran : ran - bad.length;
    failed += ok ? 0 : Math.max(bad.length, 1);
    console.log(`${ext} ${client}: ${ran - bad.length}/${ran}${bad.length ? ` failed: ${bad.join(' ')}` : ''}${!ok && !bad.length ? `\n${text}` : ''}`);
  }
}
console.log(`w3c-suite: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
