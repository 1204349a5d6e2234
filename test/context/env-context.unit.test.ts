/**
 * The startup window of src/env-context.ts with a clock the test moves (no
 * timing thresholds), the env-carrier key normalisation, and where the
 * child_process wrappers put the options copy for every call shape.
 */
import { SpanKind } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { envParent, STARTUP_WINDOW_MS } from '../../src/env-context';
import { buildPropagator } from '../../src/propagators';
import { envKey } from '../../src/propagation/env-carrier';
import { executableName, locate } from '../../src/instrumentations/child-process/args';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const cfg = (mode: 'startup' | 'process' | 'off', carrier: Record<string, string> = { TRACEPARENT: TP }) => ({
  envCarrier: carrier,
  agent: { envContext: mode },
});
const prop = buildPropagator(['tracecontext', 'baggage', 'b3multi']);

describe('env context window', () => {
  it('startup: root spans get the parent until the time limit, then never again', () => {
    let t = 1000;
    const p = envParent(cfg('startup'), prop, () => t)!;
    expect(p(SpanKind.INTERNAL)).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', isRemote: true });
    t += STARTUP_WINDOW_MS;
    expect(p(SpanKind.CLIENT)?.spanId).toBe('b7ad6b7169203331');
    t += 1;
    expect(p(SpanKind.CLIENT)).toBeUndefined();
    t = 1000; // closed for good, whatever the clock says
    expect(p(SpanKind.INTERNAL)).toBeUndefined();
  });

  it('startup: the first SERVER or CONSUMER span closes it and does not take it', () => {
    for (const kind of [SpanKind.SERVER, SpanKind.CONSUMER]) {
      const p = envParent(cfg('startup'), prop, () => 0)!;
      expect(p(SpanKind.PRODUCER)).toBeDefined();
      expect(p(kind)).toBeUndefined();
      expect(p(SpanKind.INTERNAL)).toBeUndefined();
    }
  });

  it('process: never closes, SERVER and CONSUMER still never take it; off and no carrier: nothing', () => {
    let t = 0;
    const p = envParent(cfg('process'), prop, () => t)!;
    expect(p(SpanKind.SERVER)).toBeUndefined();
    t += 10 * STARTUP_WINDOW_MS;
    expect(p(SpanKind.INTERNAL)).toBeDefined();
    expect(envParent(cfg('off'), prop)).toBeUndefined();
    expect(envParent(cfg('startup', {}), prop)).toBeUndefined();
    expect(envParent(cfg('startup', { TRACEPARENT: 'garbage' }), prop)).toBeUndefined();
  });

  it('reads the other propagators from their normalised names (B3 multi)', () => {
    const p = envParent(cfg('startup', { X_B3_TRACEID: '0af7651916cd43dd8448eb211c80319c', X_B3_SPANID: 'b7ad6b7169203331', X_B3_SAMPLED: '1' }), prop)!;
    expect(p(SpanKind.INTERNAL)?.spanId).toBe('b7ad6b7169203331');
  });
});

describe('env carrier keys', () => {
  it('upper case, anything outside [A-Z0-9_] becomes _', () => {
    expect(['traceparent', 'tracestate', 'baggage', 'x-b3-traceid', 'uber-trace-id', 'uberctx-user.id'].map(envKey)).toEqual([
      'TRACEPARENT',
      'TRACESTATE',
      'BAGGAGE',
      'X_B3_TRACEID',
      'UBER_TRACE_ID',
      'UBERCTX_USER_ID',
    ]);
  });
});

describe('child_process argument shapes', () => {
  const o = { env: { A: '1' } };
  const cb = (): void => undefined;
  const cases: [Parameters<typeof locate>[0], unknown[], unknown[]][] = [
    ['spawn', ['ls'], ['ls', o]],
    ['spawn', ['ls', ['-l']], ['ls', ['-l'], o]],
    ['spawn', ['ls', { cwd: '/' }], ['ls', { cwd: '/', ...o }]],
    ['spawn', ['ls', ['-l'], { cwd: '/' }], ['ls', ['-l'], { cwd: '/', ...o }]],
    ['spawn', ['ls', null, { cwd: '/' }], ['ls', null, { cwd: '/', ...o }]],
    ['execFile', ['ls', cb], ['ls', [], o, cb]],
    ['execFile', ['ls', ['-l'], cb], ['ls', ['-l'], o, cb]],
    ['execFile', ['ls', null, null, cb], ['ls', [], o, cb]],
    ['exec', ['ls -l', cb], ['ls -l', o, cb]],
    ['exec', ['ls -l'], ['ls -l', o]],
    ['execSync', ['ls -l', { cwd: '/' }], ['ls -l', { cwd: '/', ...o }]],
    ['fork', ['./w.js', ['a']], ['./w.js', ['a'], o]],
  ];
  it.each(cases)('%s %j', (method, args, want) => {
    const at = locate(method, args)!;
    expect(at.rebuild({ ...at.options, ...o })).toEqual(want);
  });

  it('leaves calls Node would reject alone, and names only the executable file', () => {
    expect(locate('spawn', ['ls', 'not-an-array-or-options'])).toBeUndefined();
    expect(locate('spawn', ['ls', cb])).toBeUndefined();
    expect(executableName('spawn', ['/usr/local/bin/tool'], undefined, 'linux')).toBe('tool');
    expect(executableName('exec', ['curl -H "token: x"'], undefined, 'linux')).toBe('sh');
    expect(executableName('spawn', ['git push'], { shell: '/bin/bash' }, 'linux')).toBe('bash');
    expect(executableName('fork', ['./w.js'], undefined, 'linux')).toBe('node');
  });
});
