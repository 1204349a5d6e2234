/**
 * OTEL_AGENT_QUEUE_HOOKS end to end: a real app (CommonJS and ESM twins) with
 * its own file-backed task queue and no tracing code, started with the agent
 * and nothing but the variable. Tasks are JSON files worked off from a timer,
 * so only the context written into the task can connect execute to submit.
 */
import { join } from 'node:path';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, childrenOf, one, byName, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { FIXTURES, runFixture, VARIANTS, type FixtureResult } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const CWD = join(FIXTURES, 'queue');

function hooks(ext: string, opts: { link?: boolean } = {}): string {
  return [
    `./lib/queue.${ext}#TaskQueue.prototype.submit=submit(arg1, queue=tasks, id=return.id, system=filequeue)`,
    `./lib/queue.${ext}#TaskQueue.prototype.submitCb=submit(arg1, queue=tasks)`,
    `./lib/worker.${ext}#execute=execute(arg0.input, queue=tasks, id=arg0.id, attempt=arg0.attempt${opts.link ? ', link' : ''})`,
    `./lib/worker.${ext}#executeSync=execute(arg0.input, queue=tasks, id=arg0.id)`,
    `./lib/worker.${ext}#executeCb=execute(arg0.input, queue=tasks, id=arg0.id)`,
    `./lib/handlers.${ext}#greet=span()`,
    `./lib/notify.${ext}#default=span(name=notify)`,
  ].join('; ');
}

interface Run {
  r: FixtureResult;
  spans: RecvSpan[];
  lines: (key: string) => unknown[];
}

let n = 0;
async function run(ext: string, scenario: string, queueHooks: string, env: Record<string, string> = {}): Promise<Run> {
  const service = `queue-${ext}-${scenario}-${++n}`;
  const r = await runFixture({
    fixture: `queue/app.${ext}`,
    args: [scenario],
    cwd: CWD,
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: service, OTEL_AGENT_QUEUE_HOOKS: queueHooks, ...env },
  });
  return {
    r,
    spans: rx.spans().filter((s) => s.resource['service.name'] === service),
    lines: (key) =>
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith(key + ' '))
        .map((l) => JSON.parse(l.slice(key.length + 1))),
  };
}

const consumers = (spans: RecvSpan[]): RecvSpan[] => spans.filter((s) => s.kind === 'CONSUMER');

describe.each(VARIANTS)('queue hooks from the environment (%s)', (ext) => {
  it('submit -> execute -> handler -> default export: one trace through the task file, I/O nested where it happened', async () => {
    const { r, spans, lines } = await run(ext, 'basic', hooks(ext));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('warning');
    expect(lines('RESULT')).toEqual(['notified: hello ada']);

    const publish = one(spans, 'publish tasks');
    expect(publish.kind).toBe('PRODUCER');
    expect(publish.parentSpanId).toBe('');
    const [task] = lines('STORED') as { id: string; input: Record<string, unknown> }[];
    expect(publish.attributes).toMatchObject({
      'messaging.system': 'filequeue',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'tasks',
      'messaging.message.id': task!.id,
      'code.function.name': 'TaskQueue.submit',
    });
    // What was stored: the user's fields untouched, the context beside them under _otel.
    expect(task!.input).toEqual({
      name: 'ada',
      note: 'user data',
      _otel: { traceparent: `00-${publish.traceId}-${publish.spanId}-03` }, // sampled, random trace id
    });
    // The queue's own write happened inside submit, so it nests under the PRODUCER span.
    expect(childrenOf(spans, publish).map((s) => s.name)).toContain('fs writeFileSync');

    const proc = one(spans, 'process tasks');
    expect(proc.kind).toBe('CONSUMER');
    expect(proc.traceId).toBe(publish.traceId);
    expect(proc.parentSpanId).toBe(publish.spanId);
    expect(proc.attributes).toMatchObject({ 'messaging.operation.type': 'process', 'messaging.message.id': task!.id, 'task.attempt': 1 });
    const greet = one(spans, 'greet');
    expect(greet.kind).toBe('INTERNAL');
    expect(greet.parentSpanId).toBe(proc.spanId);
    const notify = one(spans, 'notify');
    expect(notify.parentSpanId).toBe(greet.spanId);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([publish.traceId]));
  });

  it('link mode: execute starts a new trace that links to the submitting span', async () => {
    const { r, spans } = await run(ext, 'link', hooks(ext, { link: true }));
    expect(r.code, r.stderr).toBe(0);
    const publish = one(spans, 'publish tasks');
    const proc = one(spans, 'process tasks');
    expect(proc.traceId).not.toBe(publish.traceId);
    expect(proc.parentSpanId).toBe('');
    expect(proc.links).toHaveLength(1);
    expect(proc.links[0]).toMatchObject({ traceId: publish.traceId, spanId: publish.spanId });
    // The handler still nests under the process span, in the new trace.
    expect(one(spans, 'greet').parentSpanId).toBe(proc.spanId);
  });

  it('Node-style callbacks: spans end when the callback runs, a callback error is recorded and passed on unchanged', async () => {
    const { r, spans, lines } = await run(ext, 'callback', hooks(ext));
    expect(r.code, r.stderr).toBe(0);
    expect(lines('RESULT')).toEqual(['notified: hello cy']);
    expect(lines('FAILED')).toEqual([{ message: 'payment refused', same: true }]);
    const publishes = byName(spans, 'publish tasks');
    expect(publishes).toHaveLength(2);
    const procs = consumers(spans);
    expect(procs).toHaveLength(2);
    for (const p of procs) expect(publishes.map((x) => x.spanId)).toContain(p.parentSpanId);
    const failed = procs.find((p) => p.status.code === 'ERROR')!;
    expect(failed.status.message).toBe('payment refused');
    expect(failed.attributes['error.type']).toBe('TaskFailure');
    const ok = procs.find((p) => p !== failed)!;
    expect(one(spans, 'greet').parentSpanId).toBe(ok.spanId);
    // The callback version of submit wrote the file through fs.writeFile, ended by its callback.
    const cbPublish = publishes.find((p) => p.spanId === failed.parentSpanId)!;
    expect(childrenOf(spans, cbPublish).map((s) => s.name)).toContain('fs writeFile');
  });

  it('sync functions: a thrown error is recorded and reaches the caller as the same object', async () => {
    const { r, spans, lines } = await run(ext, 'sync', hooks(ext));
    expect(r.code, r.stderr).toBe(0);
    expect(lines('RESULT')).toEqual(['hello bob']);
    expect(lines('FAILED')).toEqual([{ message: 'sync failure', same: true }]);
    const procs = consumers(spans);
    expect(procs.map((p) => p.status.code).sort()).toEqual(['ERROR', 'UNSET']);
    const failed = procs.find((p) => p.status.code === 'ERROR')!;
    expect(failed.status.message).toBe('sync failure');
    expect(failed.attributes['error.type']).toBe('TaskFailure');
    expect(failed.events.find((e) => e.name === 'exception')?.attributes['exception.message']).toBe('sync failure');
    for (const p of procs) expect(byName(spans, 'publish tasks').map((x) => x.spanId)).toContain(p.parentSpanId);
  });

  it('async errors: the rejection is recorded (ERROR, exception event) and the app gets the same error', async () => {
    const { r, spans, lines } = await run(ext, 'errors', hooks(ext));
    expect(r.code, r.stderr).toBe(0);
    expect(lines('FAILED')).toEqual([{ message: 'payment refused', same: true }]);
    const proc = one(spans, 'process tasks');
    expect(proc.status).toEqual({ code: 'ERROR', message: 'payment refused' });
    expect(proc.events.find((e) => e.name === 'exception')?.attributes['exception.message']).toBe('payment refused');
  });

  it('a retried task: one CONSUMER span per attempt with its attempt number, all under the one submit', async () => {
    const { r, spans, lines } = await run(ext, 'retry', hooks(ext));
    expect(r.code, r.stderr).toBe(0);
    expect(lines('RESULT')).toEqual(['third time lucky']);
    const publish = one(spans, 'publish tasks');
    const procs = consumers(spans).sort((a, b) => Number(a.attributes['task.attempt']) - Number(b.attributes['task.attempt']));
    expect(procs.map((p) => p.attributes['task.attempt'])).toEqual([1, 2, 3]);
    expect(procs.map((p) => p.status.message ?? 'ok')).toEqual(['flaky attempt 1', 'flaky attempt 2', 'ok']);
    for (const p of procs) expect(p.parentSpanId).toBe(publish.spanId);
  });

  it('a task that submits another task while executing: the whole chain is one trace', async () => {
    const { r, spans } = await run(ext, 'nested', hooks(ext));
    expect(r.code, r.stderr).toBe(0);
    const pubs = byName(spans, 'publish tasks');
    const procs = consumers(spans);
    expect(pubs).toHaveLength(3);
    expect(procs).toHaveLength(3);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    const root = one(
      pubs.filter((p) => p.parentSpanId === ''),
      'publish tasks',
    );
    // publish <- process <- publish <- process <- publish <- process
    const chain: string[] = [];
    for (let s: RecvSpan | undefined = root; s; s = [...pubs, ...procs].find((c) => c.parentSpanId === s!.spanId)) chain.push(s.kind);
    expect(chain).toEqual(['PRODUCER', 'CONSUMER', 'PRODUCER', 'CONSUMER', 'PRODUCER', 'CONSUMER']);
  });

  it('bad configuration: one warning per bad hook, naming it; the app and the good hooks run on', async () => {
    const bad = {
      syntax: `./lib/worker.${ext}#execute=execute(arg0.input`,
      missingModule: `./lib/nope.${ext}#run=span()`,
      missingExport: `./lib/worker.${ext}#executeLater=execute(arg0.input)`,
      notAFunction: `./lib/handlers.${ext}#thrown=span()`,
      entry: `./app.${ext}#main=span()`,
    };
    const good = `./lib/queue.${ext}#TaskQueue.prototype.submit=submit(arg1, queue=tasks)`;
    const { r, spans, lines } = await run(ext, 'basic', [good, ...Object.values(bad)].join('; '));
    expect(r.code, r.stderr).toBe(0);
    expect(lines('RESULT')).toEqual(['notified: hello ada']);
    one(spans, 'publish tasks');

    const warnings = r.stderr.split('\n').filter((l) => l.includes('warning:'));
    expect(warnings, r.stderr).toHaveLength(5);
    const about = (hook: string): string => {
      const w = warnings.filter((l) => l.includes(`"${hook}"`));
      expect(w, `one warning naming ${hook}:\n${r.stderr}`).toHaveLength(1);
      return w[0]!;
    };
    expect(about(bad.syntax)).toMatch(/ignored: expected <module>#<export>=<role>\(<arguments>\)/);
    expect(about(bad.missingModule)).toMatch(/module \.\/lib\/nope\.\w+ not found/);
    expect(about(bad.missingExport)).toMatch(/"executeLater" is nothing \(undefined\), not a function \(functions there: execute, executeSync, executeCb\)/);
    expect(about(bad.missingExport)).toContain('A function the module calls by its own local name never goes through the export');
    expect(about(bad.notAFunction)).toMatch(/"thrown" is an object, not a function/);
    expect(about(bad.entry)).toMatch(/is the application's entry file/);
  });

  it('a function reached only through a local binding: no span, and the agent says why (at info level)', async () => {
    const { r, spans, lines } = await run(ext, 'local', `./lib/internal.${ext}#helper=span()`, { OTEL_LOG_LEVEL: 'info' });
    expect(r.code, r.stderr).toBe(0);
    expect(lines('RESULT')).toEqual(['helped']);
    expect(byName(spans, 'helper')).toEqual([]);
    expect(r.stderr).toContain(`queue hook "./lib/internal.${ext}#helper=span()" was installed but its function was never called through the hooked export`);
    expect(r.stderr).toContain('If the module calls it by its local name, patching the export cannot reach those calls');
  });
});

describe('turning queue hooks off', () => {
  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=queue-hooks: nothing is hooked, one warning says so', async () => {
    const { r, spans } = await run('cjs', 'basic', hooks('cjs'), { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'queue-hooks' });
    expect(r.code, r.stderr).toBe(0);
    expect(consumers(spans)).toEqual([]);
    expect(byName(spans, 'publish tasks')).toEqual([]);
    expect(r.stderr.split('\n').filter((l) => l.includes('warning:'))).toEqual([
      expect.stringContaining('OTEL_AGENT_QUEUE_HOOKS is set but the queue-hooks instrumentation is turned off by OTEL_NODE_DISABLED_INSTRUMENTATIONS'),
    ]);
  });
});
