/**
 * The agent reaches into private members of @opentelemetry/instrumentation's
 * InstrumentationBase (src/otel-internals.ts). If an upstream release renames
 * them, the user gets one warning naming the member and the app's load goes on;
 * with the installed version, nothing is said and containment still works.
 */
import { describe, expect, it } from 'vitest';
import { InstrumentationBase, InstrumentationNodeModuleDefinition, type Instrumentation } from '@opentelemetry/instrumentation';
import { containInstrumentations } from '../../src/contain';
import { wrapOnRequire } from '../../src/otel-internals';
import type { AgentLog } from '../../src/log';

function recordingLog(): AgentLog & { warnings: string[] } {
  const warnings: string[] = [];
  const once = new Set<string>();
  return {
    warnings,
    level: 'info',
    enabled: () => false,
    error: () => undefined,
    warn: (m) => void warnings.push(m),
    info: () => undefined,
    debug: () => undefined,
    warnOnce: (k, m) => {
      if (!once.has(k)) {
        once.add(k);
        warnings.push(m);
      }
    },
    rateLimited: (_k, m) => void warnings.push(m),
  };
}

class Thrower extends InstrumentationBase {
  constructor() {
    super('thrower', '1.0.0', { enabled: false });
  }
  protected init() {
    return [
      new InstrumentationNodeModuleDefinition('fake-module', ['*'], () => {
        throw new Error('unexpected module shape');
      }),
    ];
  }
}

describe('private InstrumentationBase members the agent relies on', () => {
  it('are present in the installed @opentelemetry/instrumentation: no warning, and a throwing patch is contained', () => {
    const log = recordingLog();
    const instr = new Thrower();
    containInstrumentations('thrower', [instr], log);
    expect(log.warnings).toEqual([]);
    // The patch the require hook would call now returns the module unpatched instead of throwing into the app.
    const def = (instr as unknown as { _modules: { patch: (e: unknown) => unknown }[] })._modules[0]!;
    const exports = { a: 1 };
    expect(def.patch(exports)).toBe(exports);
    expect(log.warnings.join('\n')).toMatch(/instrumentation "thrower" could not patch fake-module/);
  });

  it('renamed upstream: one warning per member naming it, no exception', () => {
    const log = recordingLog();
    // What an InstrumentationBase would look like with _modules and _wrap renamed.
    const renamed = {
      instrumentationName: 'renamed',
      instrumentationVersion: '1.0.0',
      __modulesV2: [],
      getConfig: () => ({}),
      setConfig: () => undefined,
      disable: () => undefined,
    } as unknown as Instrumentation;
    expect(() => containInstrumentations('renamed', [renamed, renamed], log)).not.toThrow();
    expect(log.warnings).toHaveLength(2);
    expect(log.warnings[0]).toMatch(/InstrumentationBase\._modules \(seen on renamed\)/);
    expect(log.warnings[1]).toMatch(/InstrumentationBase\._wrap \(seen on renamed\)/);

    abstract class NoOnRequire {}
    expect(() => wrapOnRequire(NoOnRequire, log, (fn) => fn())).not.toThrow();
    expect(log.warnings[2]).toMatch(/InstrumentationBase\.prototype\._onRequire/);
  });
});
