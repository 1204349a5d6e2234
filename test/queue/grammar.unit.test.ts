import { describe, expect, it } from 'vitest';
import { defaultSpanName, functionName, parseHook, parseQueueHooks } from '../../src/instrumentations/queue-hooks/grammar';

describe('OTEL_AGENT_QUEUE_HOOKS grammar', () => {
  it('parses the documented example: a class method submit and a named-export execute', () => {
    const r = parseQueueHooks('./lib/queue.js#TaskQueue.prototype.submit=submit(arg1); ./lib/worker.js#execute=execute(arg0.input)');
    expect(r.errors).toEqual([]);
    expect(r.hooks).toHaveLength(2);
    const [s, e] = r.hooks;
    expect(s).toMatchObject({
      module: './lib/queue.js',
      exportPath: ['TaskQueue', 'prototype', 'submit'],
      role: 'submit',
      carrier: { root: 'arg', index: 1, props: [] },
      key: '_otel',
      system: 'custom',
      link: false,
      callback: { kind: 'auto' },
    });
    expect(e).toMatchObject({ module: './lib/worker.js', exportPath: ['execute'], role: 'execute', carrier: { root: 'arg', index: 0, props: ['input'] } });
  });

  it('reads every option', () => {
    const h = parseHook(
      '@acme/jobs/lib/run.js#default=execute(this.task.payload, queue=arg0.queue, id=arg0.id, attempt=this.task.attempt, system=acme-jobs, key=__trace, link, callback=arg2, name=run-job)',
    );
    expect(h.module).toBe('@acme/jobs/lib/run.js');
    expect(h.exportPath).toEqual(['default']);
    expect(h.carrier).toMatchObject({ root: 'this', props: ['task', 'payload'] });
    expect(h.queue).toEqual({ path: expect.objectContaining({ root: 'arg', index: 0, props: ['queue'] }) });
    expect(h.id).toMatchObject({ root: 'arg', index: 0, props: ['id'] });
    expect(h.attempt).toMatchObject({ root: 'this', props: ['task', 'attempt'] });
    expect(h.system).toBe('acme-jobs');
    expect(h.key).toBe('__trace');
    expect(h.link).toBe(true);
    expect(h.callback).toEqual({ kind: 'arg', index: 2 });
    expect(h.name).toBe('run-job');
  });

  it('takes a literal queue name, a return-value id and newlines between hooks', () => {
    const r = parseQueueHooks('./q.js#submit=submit(arg0, queue=orders, id=return.id)\n\n./w.js#run=span()\n');
    expect(r.errors).toEqual([]);
    expect(r.hooks[0]!.queue).toEqual({ literal: 'orders' });
    expect(r.hooks[0]!.id).toMatchObject({ root: 'return', props: ['id'] });
    expect(r.hooks[1]).toMatchObject({ role: 'span', exportPath: ['run'] });
  });

  it('names spans "<operation> <queue>" and span-role spans after the function', () => {
    const submit = parseHook('./q.js#TaskQueue.prototype.submit=submit(arg0)');
    expect(defaultSpanName(submit, 'orders', 'q')).toBe('publish orders');
    expect(defaultSpanName(submit, undefined, 'q')).toBe('publish');
    expect(defaultSpanName(parseHook('./w.js#execute=execute(arg0)'), 'orders', 'w')).toBe('process orders');
    const span = parseHook('./w.js#Worker.prototype.claim=span()');
    expect(defaultSpanName(span, undefined, 'w')).toBe('Worker.claim');
    expect(functionName(parseHook('./handler.js#default=span()'), 'handler')).toBe('handler');
    expect(defaultSpanName(parseHook('./w.js#x=span(name=claim-task)'), undefined, 'w')).toBe('claim-task');
  });

  it.each([
    ['no # separator', './lib/queue.js=submit(arg0)', /expected <module>#<export>=<role>/],
    ['no role call', './lib/queue.js#submit', /expected <module>#<export>=<role>/],
    ['unknown role', './lib/queue.js#submit=send(arg0)', /unknown role "send"/],
    ['bad export segment', './lib/queue.js#Task-Queue.submit=submit(arg0)', /invalid segment "Task-Queue"/],
    ['missing carrier', './lib/queue.js#submit=submit()', /needs the argument the context travels in/],
    ['carrier not a path', './lib/queue.js#submit=submit(payload)', /neither a path/],
    ['two carriers', './lib/queue.js#submit=submit(arg0, arg1)', /two context carriers/],
    ['return as carrier', './lib/queue.js#submit=submit(return.x)', /cannot be the return value/],
    ['unknown option', './lib/queue.js#submit=submit(arg0, topic=x)', /unknown option "topic"/],
    ['duplicate option', './lib/queue.js#submit=submit(arg0, queue=a, queue=b)', /given twice/],
    ['empty option', './lib/queue.js#submit=submit(arg0, queue=)', /has no value/],
    ['link on submit', './lib/queue.js#submit=submit(arg0, link)', /only applies to the execute role/],
    ['carrier on span', './lib/w.js#claim=span(arg0)', /span role carries no context/],
    ['queue on span', './lib/w.js#claim=span(queue=x)', /applies to submit and execute/],
    ['bad path root', './lib/queue.js#submit=submit(arg0, id=task.id)', /must start with argN/],
    ['bad callback', './lib/queue.js#submit=submit(arg0, callback=first)', /must be auto, none, last or argN/],
    ['bad system', './lib/queue.js#submit=submit(arg0, system=My Queue)', /system/],
    ['empty item', './lib/queue.js#submit=submit(arg0,,queue=a)', /empty/],
  ])('rejects %s with a reason', (_what, text, reason) => {
    const r = parseQueueHooks(text);
    expect(r.hooks).toEqual([]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toContain(`hook "${text}" ignored`);
    expect(r.errors[0]).toMatch(reason);
  });

  it('keeps the good hooks when one is bad, one message per bad hook', () => {
    const r = parseQueueHooks('./a.js#submit=submit(arg0); ./b.js#oops; ./c.js#execute=execute(arg0.input); ./d.js#x=span(arg9)');
    expect(r.hooks.map((h) => h.module)).toEqual(['./a.js', './c.js']);
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0]).toContain('"./b.js#oops"');
    expect(r.errors[1]).toContain('"./d.js#x=span(arg9)"');
  });

  it('rejects hooking the same function twice', () => {
    const r = parseQueueHooks('./a.js#submit=submit(arg0); ./a.js#submit=span()');
    expect(r.hooks).toHaveLength(1);
    expect(r.errors[0]).toMatch(/already hooked/);
  });

  it('treats an empty variable (or only separators) as no hooks and no errors', () => {
    expect(parseQueueHooks(' ; \n ;')).toEqual({ hooks: [], errors: [] });
  });
});
