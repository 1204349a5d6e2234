/**
 * Instrumentations load when their module does, not before: an app that
 * never touches http or fetch never loads dist/instr/http.cjs or undici.cjs.
 */
import { describe, expect, it } from 'vitest';
import { runFixture, VARIANTS } from '../harness/fixture';

async function loaded(ext: string, arg?: string): Promise<string[]> {
  const r = await runFixture({ fixture: `http/lazy.${ext}`, args: arg ? [arg] : [], env: { OTEL_TRACES_EXPORTER: 'none' } });
  expect(r.code, r.stderr).toBe(0);
  const line = r.stdout.split('\n').find((l) => l.startsWith('LOADED '));
  expect(line, r.stdout).toBeDefined();
  return JSON.parse(line!.slice('LOADED '.length)) as string[];
}

describe.each(VARIANTS)('lazy loading (%s)', (ext) => {
  it('an app that never uses http or fetch loads neither instrumentation (but fs, which it uses)', async () => {
    const files = await loaded(ext);
    expect(files).toContain('dist/agent.cjs');
    expect(files).toContain('dist/instr/fs.cjs');
    expect(files).not.toContain('dist/instr/http.cjs');
    expect(files).not.toContain('dist/instr/undici.cjs');
  });

  it('loading node:http loads the http instrumentation only', async () => {
    const files = await loaded(ext, 'http');
    expect(files).toContain('dist/instr/http.cjs');
    expect(files).not.toContain('dist/instr/undici.cjs');
  });

  it('touching the global fetch loads the undici instrumentation only', async () => {
    const files = await loaded(ext, 'fetch');
    expect(files).toContain('dist/instr/undici.cjs');
    expect(files).not.toContain('dist/instr/http.cjs');
  });
});
