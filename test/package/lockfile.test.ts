/**
 * A fresh clone installs from the committed lockfile (`npm ci`, what .ci/run
 * does) and builds a working agent. `npm ci` refuses a lockfile that is out of
 * step with package.json (a missing platform package is enough), so this
 * fails on a lockfile that `npm install` would quietly repair.
 *
 * The clone is of the last commit: uncommitted changes to package.json or the
 * lockfile are not seen, as they would not be by CI.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, runFixture } from '../harness/fixture';
import { npm, requireRegistry } from './npm';

let work = '';
// A clone with its node_modules is hundreds of MB: removing it takes a while on a busy machine.
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
}, 300_000);

describe('a fresh clone', () => {
  it('installs with npm ci, builds, and the built agent traces an app', async ({ skip }) => {
    if (!(await requireRegistry('npm ci on a fresh clone', ROOT))) return skip();
    work = mkdtempSync(join(tmpdir(), 'otel-clone-'));
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    execFileSync('git', ['clone', '--quiet', '--no-checkout', ROOT, work]);
    execFileSync('git', ['checkout', '--quiet', head], { cwd: work });

    // --ignore-scripts: the native addons of test-only packages (better-sqlite3, msgpackr-extract)
    // would compile with node-gyp for minutes; the lockfile is what is under test, and the build
    // (`prepare`) is run on its own below.
    const ci = await npm(['ci', '--prefer-offline', '--ignore-scripts'], work, 540_000);
    expect(
      ci.code,
      ci.stderr
        .split('\n')
        .filter((l) => /error/i.test(l))
        .join('\n'),
    ).toBe(0);
    const build = await npm(['run', 'build'], work);
    expect(build.code, build.stderr).toBe(0);
    expect(existsSync(join(work, 'dist/register.cjs'))).toBe(true);

    const r = await runFixture({ fixture: join(work, 'test/fixtures/package/installed-app.mjs'), cwd: work, env: { OTEL_TRACES_EXPORTER: 'console' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`AGENT ${pathToFileURL(join(work, 'dist/register.mjs'))}`);
    expect(r.stdout).toMatch(/^└─ GET \/installed\/:id {2}server {2}200 {2}[\d.]+ ms$/m);
  }, 600_000);
});
