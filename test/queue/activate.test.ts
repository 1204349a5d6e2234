import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQueueHooks } from '../../src/instrumentations/queue-hooks/grammar';
import { resolveTargets } from '../../src/instrumentations/queue-hooks/activate';
import { FIXTURES, ROOT } from '../harness/fixture';

const CWD = join(FIXTURES, 'queue');

function resolveAll(raw: string, entry?: string): { targets: ReturnType<typeof resolveTargets>; warnings: string[] } {
  const warnings: string[] = [];
  const { hooks, errors } = parseQueueHooks(raw);
  expect(errors).toEqual([]);
  return { targets: resolveTargets(hooks, CWD, entry, (m) => warnings.push(m)), warnings };
}

describe('resolving the modules named in OTEL_AGENT_QUEUE_HOOKS', () => {
  it('resolves paths against the working directory, grouping the hooks of one file', () => {
    const { targets, warnings } = resolveAll(
      './lib/queue.cjs#TaskQueue.prototype.submit=submit(arg1); ./lib/queue.cjs#TaskQueue.prototype.retry=span(); ./lib/worker.mjs#execute=execute(arg0)',
    );
    expect(warnings).toEqual([]);
    expect(targets.map((t) => [t.file, t.hooks.length])).toEqual([
      [join(CWD, 'lib/queue.cjs'), 2],
      [join(CWD, 'lib/worker.mjs'), 1],
    ]);
    expect(targets[0]!.hooks[0]!.moduleBase).toBe('queue');
    expect(targets[0]!.specifier).toBeUndefined();
  });

  it('resolves a package name to its file and keeps the specifier for import', () => {
    const warnings: string[] = [];
    const { hooks } = parseQueueHooks('bullmq#Queue.prototype.add=submit(arg1)');
    const [t] = resolveTargets(hooks, ROOT, undefined, (m) => warnings.push(m));
    expect(warnings).toEqual([]);
    expect(t!.specifier).toBe('bullmq');
    expect(t!.file).toBe(join(ROOT, 'node_modules/bullmq/dist/cjs/index.js'));
  });

  it('warns once per missing module, naming its hooks, and keeps the rest', () => {
    const { targets, warnings } = resolveAll('./lib/nope.cjs#a=span(); ./lib/nope.cjs#b=span(); ./lib/queue.cjs#TaskQueue.prototype.submit=submit(arg1)');
    expect(targets).toHaveLength(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('hook "./lib/nope.cjs#a=span()", "./lib/nope.cjs#b=span()" ignored: module ./lib/nope.cjs not found');
  });

  it('points out the ./ when a bare name is really a file in the working directory', () => {
    const { targets, warnings } = resolveAll('lib/queue.cjs#TaskQueue.prototype.submit=submit(arg1)');
    expect(targets).toEqual([]);
    expect(warnings[0]).toContain(`package lib/queue.cjs not found from ${CWD} (for the file ${join(CWD, 'lib/queue.cjs')}, write ./lib/queue.cjs)`);
  });

  it('refuses the entry file, which Node never loads through require() or import', () => {
    const { targets, warnings } = resolveAll('./app.cjs#main=span()', join(CWD, 'app.cjs'));
    expect(targets).toEqual([]);
    expect(warnings[0]).toContain("is the application's entry file");
  });
});
