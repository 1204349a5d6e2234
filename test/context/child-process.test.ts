/**
 * Trace context into child processes through the environment (TRACEPARENT,
 * TRACESTATE, BAGGAGE), checked on what the OTLP receiver got from both
 * processes: one trace, the spawn's CLIENT span as the parent of the child's
 * spans, the shell seeing the same trace, the app's env object untouched, no
 * argument anywhere, and nothing added outside a span.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, spanTree, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { requireServer } from '../harness/servers';
import { expectNowhere, secret } from '../db/helpers';

const available = await requireServer('postgres');

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

const of = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);

describe.skipIf(!available).each(VARIANTS)('child processes (%s)', (ext) => {
  it('one trace across both processes, a shell that sees it, no argv, no change to the app env', async () => {
    const service = `spawn-${ext}`;
    const childService = `spawn-child-${ext}`;
    const token = secret('argv');
    const r = await runFixture({
      fixture: `context/spawn-parent.${ext}`,
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service, CHILD_SERVICE: childService, ARGV_SECRET: token },
    });
    expect(r.code, r.stderr).toBe(0);
    await rx.waitForSpans((all) => all.some((s) => s.resource['service.name'] === childService && s.name.startsWith('SELECT')), 10_000);
    const parent = of(service);
    const child = of(childService);
    const all = [...parent, ...child];

    const server = parent.find((s) => s.kind === 'SERVER' && s.name === 'GET /run')!;
    expect(server, spanTree(parent)).toBeDefined();
    const spawnNode = parent.find((s) => s.name === 'spawn node')!;
    expect(spawnNode, spanTree(parent)).toBeDefined();
    expect(spawnNode.kind).toBe('CLIENT');
    expect(spawnNode.traceId).toBe(server.traceId);
    expect(spawnNode.parentSpanId).toBe(server.spanId);
    const childPid = Number(/CHILD pid=(\d+)/.exec(r.stdout)![1]);
    expect(spawnNode.attributes).toMatchObject({ 'process.executable.name': 'node', 'process.pid': childPid, 'process.exit.code': 0 });
    expect(spawnNode.status.code).not.toBe('ERROR');

    // The child saw the spawn span as its parent, and every span it made is in that trace.
    // The request started the trace here, so its flags are sampled + random trace id (03, W3C Level 2).
    expect(r.stdout).toContain(`traceparent=00-${server.traceId}-${spawnNode.spanId}-03`);
    expect(child.length).toBeGreaterThanOrEqual(1);
    for (const s of child) expect(s.traceId, spanTree(all)).toBe(server.traceId);
    const select = child.find((s) => s.name.startsWith('SELECT'))!;
    expect(select.kind).toBe('CLIENT');
    const ids = new Set(child.map((s) => s.spanId));
    const childRoots = child.filter((s) => !ids.has(s.parentSpanId));
    expect(childRoots.length).toBeGreaterThanOrEqual(1);
    for (const s of childRoots) expect(s.parentSpanId, spanTree(all)).toBe(spawnNode.spanId);

    // A non-Node child gets the variable too.
    const spawnSh = parent.find((s) => s.name === 'execFile sh')!;
    expect(spawnSh, spanTree(parent)).toBeDefined();
    expect(spawnSh.parentSpanId).toBe(server.spanId);
    expect(r.stdout).toContain(`SHELL 00-${server.traceId}-${spawnSh.spanId}-03`);

    // promisify(exec) keeps its { stdout, stderr } result, and is traced (one span, not one for exec and one for execFile).
    const execSh = parent.filter((s) => s.name === 'exec sh');
    expect(execSh, spanTree(parent)).toHaveLength(1);
    expect(parent.filter((s) => s.name.startsWith('execFile'))).toHaveLength(1);
    expect(r.stdout).toContain(`PROMISIFIED stdout,stderr 00-${server.traceId}-${execSh[0]!.spanId}-03`);
    expect(execSh[0]!.attributes['process.exit.code']).toBe(0);

    // The app's objects and the process environment are untouched; outside a span nothing is added.
    expect(r.stdout).toContain('APPENV unchanged');
    expect(r.stdout).toContain('PROCESSENV []');
    expect(r.stdout).toContain('OUTSIDE []');
    expect(parent.filter((s) => s.name.startsWith('execSync'))).toHaveLength(0);

    // The secret on the child's command line is in no span and no resource of either process.
    expect(r.stdout).not.toContain(token); // (the child does not print its argv either)
    expectNowhere(all, token);
  });
});
