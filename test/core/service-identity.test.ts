/**
 * service.name / service.version come from the app's own package.json, never
 * from the dependency whose bin is the entry file (`node node_modules/next/dist/bin/next`).
 * The app directories are written to a temporary folder: a fake dependency
 * with its own package.json and a bin that runs the usual lifecycle fixture.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { FIXTURES, ROOT, runFixture } from '../harness/fixture';

let rx: OtlpReceiver;
let dir: string;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  dir = mkdtempSync(join(tmpdir(), 'otel-agent-identity-'));
});
afterAll(async () => {
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
});

const json = (p: string, v: unknown): void => writeFileSync(p, JSON.stringify(v));

/** `<root>/node_modules/<dep>/` with package.json `<dep>@<version>` and bin/<dep>.<ext> running core/lifecycle.<ext>. */
function fakeDependency(root: string, dep: string, version: string, ext: 'cjs' | 'mjs'): string {
  const pkg = join(root, 'node_modules', dep);
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  json(join(pkg, 'package.json'), { name: dep, version, bin: { [dep]: `bin/${dep}.${ext}` } });
  const target = join(FIXTURES, `core/lifecycle.${ext}`);
  const bin = join(pkg, 'bin', `${dep}.${ext}`);
  writeFileSync(bin, ext === 'cjs' ? `require(${JSON.stringify(target)});\n` : `await import(${JSON.stringify(target)});\n`);
  return bin;
}

describe.each(['cjs', 'mjs'] as const)('service identity of an app started through a dependency bin (%s)', (ext) => {
  it("names the service after the app's package.json, not the dependency's (node node_modules/<dep>/bin/cli)", async () => {
    const app = join(dir, `app-${ext}`);
    mkdirSync(app, { recursive: true });
    json(join(app, 'package.json'), { name: `storefront-${ext}`, version: '4.5.6', private: true });
    const bin = fakeDependency(app, 'next-like', '16.4.6', ext);
    const r = await runFixture({ fixture: bin, args: ['drain'], endpoint: rx.url, env: { OTEL_SERVICE_NAME: undefined } });
    expect(r.code, r.stderr).toBe(0);
    // process.command is the entry's file name (resource.ts: no paths on the resource).
    const spans = rx.spans().filter((s) => s.resource['process.command'] === basename(bin));
    expect(spans.length).toBeGreaterThanOrEqual(3);
    for (const s of spans) {
      expect(s.resource['service.name']).toBe(`storefront-${ext}`);
      expect(s.resource['service.version']).toBe('4.5.6');
    }
  });

  it("falls back to the working directory's package.json when no package.json outside node_modules is above the entry", async () => {
    // The tool lives in a folder of its own (no package.json above it outside node_modules); the app is the cwd.
    const tools = join(dir, `tools-${ext}`);
    const app = join(dir, `cwd-app-${ext}`);
    mkdirSync(app, { recursive: true });
    json(join(app, 'package.json'), { name: `billing-${ext}`, version: '7.8.9', private: true });
    const bin = fakeDependency(tools, 'cli-tool', '3.0.0', ext);
    const r = await runFixture({
      fixture: bin,
      args: ['drain'],
      endpoint: rx.url,
      cwd: app,
      // The cwd is the app, so `@x/otel-agent` is loaded by path instead of by name.
      mode: 'none',
      nodeArgs: ['--import', join(ROOT, 'dist/register.mjs')],
      env: { OTEL_SERVICE_NAME: undefined },
    });
    expect(r.code, r.stderr).toBe(0);
    // process.command is the entry's file name (resource.ts: no paths on the resource).
    const spans = rx.spans().filter((s) => s.resource['process.command'] === basename(bin));
    expect(spans.length).toBeGreaterThanOrEqual(3);
    for (const s of spans) {
      expect(s.resource['service.name']).toBe(`billing-${ext}`);
      expect(s.resource['service.version']).toBe('7.8.9');
    }
  });
});
