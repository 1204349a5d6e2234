/**
 * The path-free view of fs errors (own/fs-shaping.ts), on errors Node really
 * throws: libuv errors with one and two paths, a null byte in a path, a file
 * URL and a Buffer path. The type stays (code, else name), the path goes, and
 * the error object the app holds is left as it was. And OTEL_AGENT_FS_SPANS:
 * `io` by default, `all` on request, a bad value warned about by name.
 */
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/env';
import { pathFreeError } from '../../src/instrumentations/own/fs-shaping';

const dir = mkdtempSync(join(tmpdir(), 'otel-fs-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
}

describe('pathFreeError', () => {
  it('keeps code and syscall of a libuv error and drops the path, leaving the app error whole', () => {
    const file = join(dir, 'secret-name.json');
    const err = thrown(() => readFileSync(file));
    expect(pathFreeError(err, 'fs readFileSync', [file])).toEqual({ type: 'ENOENT', message: 'ENOENT: no such file or directory, open' });
    expect(err.message).toContain(file);
  });

  it('drops both paths of a two-path call', () => {
    const from = join(dir, 'a.txt');
    const to = join(dir, 'b.txt');
    const err = thrown(() => renameSync(from, to));
    const out = pathFreeError(err, 'fs renameSync', [from, to]);
    expect(out).toEqual({ type: 'ENOENT', message: 'ENOENT: no such file or directory, rename' });
  });

  it('removes the path from messages of other shapes (a null byte in the path)', () => {
    const bad = join(dir, 'x\u0000y');
    const err = thrown(() => readFileSync(bad));
    expect((err as { code?: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    const out = pathFreeError(err, 'fs readFileSync', [bad]);
    expect(out.type).toBe('ERR_INVALID_ARG_VALUE');
    expect(out.message).not.toContain(dir);
    expect(out.message).not.toContain('otel-fs-errors-');
    expect(out.message).toContain('without null bytes');
  });

  it('removes unquoted paths (cp into itself) and relative paths the app passed', () => {
    const err = thrown(() => cpSync(dir, join(dir, 'sub'), { recursive: true }));
    const out = pathFreeError(err, 'fs cpSync', [dir, join(dir, 'sub')]);
    expect(out.type).toBe((err as { code?: string }).code);
    expect(out.message).not.toContain('otel-fs-errors-');
    expect(out.message).toContain('<path>');
    const rel = thrown(() => readFileSync('no-such-dir/conf.json'));
    expect(pathFreeError(rel, 'fs readFileSync', ['no-such-dir/conf.json']).message).toBe('ENOENT: no such file or directory, open');
  });

  it('handles file URLs and Buffer paths', () => {
    const url = pathToFileURL(join(dir, 'via url.txt'));
    const viaUrl = thrown(() => readFileSync(url));
    expect(pathFreeError(viaUrl, 'fs readFileSync', [url]).message).toBe('ENOENT: no such file or directory, open');
    const buf = Buffer.from(join(dir, 'buf.txt'));
    const viaBuf = thrown(() => readFileSync(buf));
    expect(pathFreeError(viaBuf, 'fs readFileSync', [buf]).message).toBe('ENOENT: no such file or directory, open');
  });

  it('removes quoted paths it was not told about, and names errors without a code by their type', () => {
    const out = pathFreeError(new TypeError(`cannot use '/srv/app/data/users.db' here`), 'fs open', undefined);
    expect(out).toEqual({ type: 'TypeError', message: "cannot use '<path>' here" });
  });
});

describe('OTEL_AGENT_FS_SPANS', () => {
  it('is io by default, all on request, and a bad value is warned about by name', () => {
    expect(loadConfig({}).agent.fsSpans).toBe('io');
    expect(loadConfig({ OTEL_AGENT_FS_SPANS: 'ALL' }).agent.fsSpans).toBe('all');
    const bad = loadConfig({ OTEL_AGENT_FS_SPANS: 'everything' });
    expect(bad.agent.fsSpans).toBe('io');
    expect(bad.warnings).toEqual(['OTEL_AGENT_FS_SPANS="everything" is not one of io, all; using the default (io)']);
  });
});
