/**
 * Containment: a failure in the agent's own machinery must cost the app
 * nothing but its traces. Each failing piece is switched off after its first
 * failure, with one warning naming it; the app's call returns what it would
 * have returned without the agent.
 *
 * - Span processors: the SDK calls onStart/onEnding/onEnd without a try (its
 *   MultiSpanProcessor forwards exceptions), so one throwing processor would
 *   make tracer.startSpan() or span.end() throw inside the app's request.
 * - Instrumentation patches run when the app first requires/imports a module:
 *   neither require-in-the-middle nor import-in-the-middle catches, so a patch
 *   that meets a module shape it does not expect (a fork, a mock, a new major
 *   that still matches the version range) would make the app's require throw.
 * - Wrappers the patches install run inside the app's calls: if the
 *   instrumentation's code throws before the app's original function ran, the
 *   original is called; if the original already ran, its own result or error
 *   is passed on. The whole instrumentation then steps aside.
 * - Configuration hooks (requestHook and the like) are switched off after
 *   their first exception.
 *
 * Not covered: instrumentation code failing asynchronously (in a promise
 * continuation or a callback it wrapped); upstream instrumentations guard
 * most of those paths themselves.
 */
import type { Context } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { AgentLog } from './log';
import { moduleDefs, replaceWrap, type ModuleDef, type WrapFactory, type WrappedFn as Fn } from './otel-internals';

const why = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 300);

/** A span processor that stops being called after its first exception. */
export class GuardedProcessor implements SpanProcessor {
  private off = false;
  constructor(
    private readonly inner: SpanProcessor,
    private readonly name: string,
    private readonly log: AgentLog,
  ) {
    if (!inner.onEnding) this.onEnding = undefined;
  }

  private fail(where: string, e: unknown): void {
    if (this.off) return;
    this.off = true;
    this.log.warn(`span processor ${this.name} threw in ${where} (${why(e)}); it is switched off for the rest of this process, the app is unaffected`);
  }

  onStart(span: Span, ctx: Context): void {
    if (this.off) return;
    try {
      this.inner.onStart(span, ctx);
    } catch (e) {
      this.fail('onStart', e);
    }
  }

  onEnding?: (span: Span) => void = (span) => {
    if (this.off) return;
    try {
      this.inner.onEnding?.(span);
    } catch (e) {
      this.fail('onEnding', e);
    }
  };

  onEnd(span: ReadableSpan): void {
    if (this.off) return;
    try {
      this.inner.onEnd(span);
    } catch (e) {
      this.fail('onEnd', e);
    }
  }

  async forceFlush(): Promise<void> {
    try {
      await this.inner.forceFlush();
    } catch (e) {
      this.fail('forceFlush', e);
    }
  }

  async shutdown(): Promise<void> {
    try {
      await this.inner.shutdown();
    } catch (e) {
      this.fail('shutdown', e);
    }
  }
}

/** Throws on purpose, in the hook OTEL_AGENT_TEST_FAULTS names. */
class FaultProcessor implements SpanProcessor {
  constructor(private readonly where: string) {}
  onStart(): void {
    if (this.where === 'processor-on-start') throw new Error('test fault in onStart');
  }
  onEnding(): void {
    if (this.where === 'processor-on-ending') throw new Error('test fault in onEnding');
  }
  onEnd(): void {
    if (this.where === 'processor-on-end') throw new Error('test fault in onEnd');
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export function guardProcessors(list: SpanProcessor[], log: AgentLog, faults: readonly string[] = []): SpanProcessor[] {
  const all = [...faults.filter((f) => f.startsWith('processor-')).map((f) => new FaultProcessor(f)), ...list];
  return all.map((p) => new GuardedProcessor(p, p.constructor.name || 'processor', log));
}

// ---------------------------------------------------------------------------------------------
// Instrumentations

interface Frame {
  called: boolean;
  returned: boolean;
  threw: boolean;
  value: unknown;
  error: unknown;
}

const invoke = (fn: Fn, self: unknown, args: unknown[], newTarget: unknown): unknown =>
  newTarget ? Reflect.construct(fn as unknown as new (...a: unknown[]) => unknown, args, newTarget as new (...a: unknown[]) => unknown) : fn.apply(self, args);

/** Makes `to` look like `from` to code that inspects functions: name, arity, prototype, statics. */
function sameShape(to: Fn, from: Fn): void {
  for (const key of Reflect.ownKeys(from)) {
    if (key === 'caller' || key === 'arguments') continue;
    const d = Object.getOwnPropertyDescriptor(from, key);
    if (!d) continue;
    try {
      Object.defineProperty(to, key, d);
    } catch {
      /* non-configurable on the target: keep ours */
    }
  }
  Object.setPrototypeOf(to, Object.getPrototypeOf(from) as object | null);
}

class InstrumentationGuard {
  off = false;
  constructor(
    private readonly name: string,
    private readonly instr: Instrumentation,
    private readonly log: AgentLog,
  ) {}

  fail(where: string, e: unknown): void {
    if (this.off) return;
    this.off = true;
    this.log.warn(
      `instrumentation "${this.name}" threw inside ${where} (${why(e)}); the call went on without it, and "${this.name}" is switched off for the rest of this process`,
    );
    try {
      this.instr.disable();
    } catch {
      /* its wrappers already pass calls straight through */
    }
  }

  /** Wraps what a patch installs so that the instrumentation's own exceptions never reach the app. */
  factory(factory: WrapFactory, target: string): WrapFactory {
    return (original, name) => {
      const stack: Frame[] = [];
      const tracked = function (this: unknown, ...args: unknown[]): unknown {
        const f = stack[stack.length - 1];
        if (!f) return invoke(original, this, args, new.target);
        f.called = true;
        try {
          const v = invoke(original, this, args, new.target);
          f.returned = true;
          f.value = v;
          return v;
        } catch (e) {
          f.threw = true;
          f.error = e;
          throw e;
        }
      } as Fn;
      sameShape(tracked, original);
      const patched = factory(tracked, name);
      if (typeof patched !== 'function' || patched === tracked) return patched;
      const guard = this;
      const where = `${target}.${String(name)}`;
      const guarded = function (this: unknown, ...args: unknown[]): unknown {
        if (guard.off) return invoke(original, this, args, new.target);
        const f: Frame = { called: false, returned: false, threw: false, value: undefined, error: undefined };
        stack.push(f);
        try {
          return invoke(patched, this, args, new.target);
        } catch (e) {
          if (f.threw && e === f.error) throw e; // the app's own error, passed on unchanged
          guard.fail(where, e);
          if (f.threw) throw f.error;
          if (f.returned) return f.value;
          return invoke(original, this, args, new.target);
        } finally {
          stack.pop();
        }
      } as Fn;
      sameShape(guarded, patched);
      return guarded;
    };
  }

  /** A patch that throws leaves the module as the app would have had it. */
  patch(def: ModuleDef): void {
    const orig = def.patch;
    if (typeof orig !== 'function') return;
    const guard = this;
    def.patch = function (this: unknown, exports: unknown, version?: string): unknown {
      try {
        return orig.call(this, exports, version);
      } catch (e) {
        const what = `${def.name}${version ? '@' + version : ''}`;
        guard.log.warn(`instrumentation "${guard.name}" could not patch ${what} (${why(e)}); ${def.name} is loaded unpatched and runs untraced`);
        try {
          def.unpatch?.(exports, version);
        } catch {
          /* partial patch: the wrappers it installed pass calls through once switched off */
        }
        guard.off = true;
        return exports;
      }
    };
  }
}

/** Hooks from the instrumentation's config (requestHook, responseHook, ...): off after their first exception. */
function guardHooks(name: string, instr: Instrumentation, log: AgentLog): void {
  const cfg = instr.getConfig() as Record<string, unknown>;
  const next: Record<string, unknown> = { ...cfg };
  let changed = false;
  for (const [key, hook] of Object.entries(next)) {
    if (typeof hook !== 'function' || !/Hook$/.test(key)) continue;
    let off = false;
    next[key] = function (this: unknown, ...args: unknown[]): unknown {
      if (off) return undefined;
      try {
        return (hook as Fn).apply(this, args);
      } catch (e) {
        off = true;
        log.warn(`the ${key} of instrumentation "${name}" threw (${why(e)}); that hook is switched off, spans go on without it`);
        return undefined;
      }
    };
    changed = true;
  }
  if (changed) instr.setConfig(next);
}

/**
 * Applied to every instrumentation right after it is created, before the
 * module it patches is evaluated.
 */
export function containInstrumentations(name: string, list: readonly Instrumentation[], log: AgentLog): void {
  for (const instr of list) {
    try {
      const guard = new InstrumentationGuard(name, instr, log);
      for (const def of moduleDefs(instr, log) ?? []) {
        guard.patch(def);
        for (const file of def.files ?? []) guard.patch(file);
      }
      // An instrumentation that guards its own wrappers (own/http.ts) says so: the
      // per-call frame below would cost more than it does on its hot paths.
      if ((instr as { selfContained?: unknown }).selfContained !== true) {
        replaceWrap(instr, log, (wrap) => (exports, fname, factory) => {
          const target = exports as Record<string, unknown> | undefined;
          if (!target || typeof target[fname] !== 'function' || typeof factory !== 'function') {
            // shimmer would print this to the app's own stderr; a missing function just stays unpatched.
            log.debug(`instrumentation "${name}": no function ${String(fname)} to wrap; left as is`);
            return undefined;
          }
          const owner = (target.constructor as { name?: string } | undefined)?.name;
          return wrap(exports, fname, guard.factory(factory, owner && owner !== 'Object' ? owner : name));
        });
      }
      guardHooks(name, instr, log);
    } catch (e) {
      log.debug(`instrumentation "${name}": containment not applied (${why(e)})`);
    }
  }
}
