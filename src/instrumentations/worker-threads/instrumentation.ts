/**
 * worker_threads, with OTEL_AGENT_ENABLE_IN_WORKERS=true: a Worker constructed
 * inside a recording span gets that span's context in its bootstrap, the
 * `env` option (a copy of the one the app passed, or of process.env, which is
 * what Node gives a worker by default), as TRACEPARENT/TRACESTATE/BAGGAGE. The
 * agent in the worker reads them at startup like any child process does
 * (src/env-context.ts), so the worker's root spans during its startup are
 * children of that span. Never `workerData` (the app's), never execArgv (Node
 * accepts only its own flags there).
 *
 * `env: SHARE_ENV` workers share the parent's process.env: there is no copy to
 * write into, so they get no context. Messages posted between threads carry
 * none either (docs/context-propagation.md). No span for the construction
 * itself: the worker's own spans show what it did.
 *
 * The export is replaced by a Proxy whose construct trap adds the option:
 * instanceof, statics, subclasses (`class Pool extends Worker`) and
 * `Worker.prototype` stay exactly Node's.
 */
import { context, trace } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { InstrumentationBase, InstrumentationNodeModuleDefinition, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { syncBuiltinESMExports } from 'node:module';
import type * as wtT from 'node:worker_threads';
import { childEnv, type ParentEnv } from '../child-process/env';
import { AGENT_VERSION } from '../../version';

type WtModule = typeof wtT;
type WorkerCtor = typeof wtT.Worker;

const ORIGINAL = Symbol('otel-agent original Worker');

export interface WorkerThreadsConfig extends InstrumentationConfig {
  parentEnv?: ParentEnv;
}

export class WorkerThreadsInstrumentation extends InstrumentationBase<WorkerThreadsConfig> {
  private failed = false;

  constructor(config: WorkerThreadsConfig = {}) {
    super('@x/otel-agent/worker-threads', AGENT_VERSION, config);
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'worker_threads',
        ['*'],
        (m: WtModule) => this.patch(m),
        (m: WtModule) => this.unpatch(m),
      ),
    ];
  }

  private patch(m: WtModule): WtModule {
    const ns = m as unknown as { [Symbol.toStringTag]?: string; default?: WtModule };
    const esm = ns[Symbol.toStringTag] === 'Module';
    const mod = (esm && ns.default ? ns.default : m) as { Worker: WorkerCtor & { [ORIGINAL]?: WorkerCtor }; SHARE_ENV: symbol };
    if (!mod.Worker[ORIGINAL]) {
      const original = mod.Worker;
      const share = mod.SHARE_ENV;
      const proxy = new Proxy(original, {
        construct: (target, args: unknown[], newTarget) => Reflect.construct(target, this.withContext(args, share), newTarget),
        get: (target, key, receiver) => (key === ORIGINAL ? original : Reflect.get(target, key, receiver)),
      });
      mod.Worker = proxy;
      syncBuiltinESMExports();
    }
    if (esm && m.Worker !== mod.Worker) Object.defineProperty(m, 'Worker', { value: mod.Worker, configurable: true, enumerable: true, writable: true });
    return m;
  }

  private unpatch(m: WtModule): void {
    const ns = m as unknown as { [Symbol.toStringTag]?: string; default?: WtModule };
    const mod = (ns[Symbol.toStringTag] === 'Module' && ns.default ? ns.default : m) as { Worker: WorkerCtor & { [ORIGINAL]?: WorkerCtor } };
    const original = mod.Worker[ORIGINAL];
    if (original) {
      mod.Worker = original;
      syncBuiltinESMExports();
    }
  }

  private withContext(args: unknown[], share: symbol): unknown[] {
    if (this.failed || !this.isEnabled()) return args;
    const active = context.active();
    const span = trace.getSpan(active);
    // The agent's own workers (the exit-time sender) run with tracing suppressed.
    if (!span?.isRecording() || isTracingSuppressed(active)) return args;
    try {
      const given = args[1];
      if (given !== undefined && (typeof given !== 'object' || given === null)) return args; // Node's own error
      const options = given as { env?: unknown } | undefined;
      if (options?.env === share) return args;
      const out = [...args];
      out[1] = { ...options, env: childEnv(options?.env, span, this.getConfig().parentEnv) };
      return out;
    } catch (e) {
      this.failed = true;
      this._diag.warn(
        `instrumentation "worker-threads" threw (${e instanceof Error ? e.message : String(e)}); workers start without trace context from now on`,
      );
      return args;
    }
  }
}
