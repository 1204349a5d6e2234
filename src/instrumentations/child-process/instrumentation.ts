/**
 * child_process: the trace context goes to the child in its environment
 * (OpenTelemetry's env-carriers: TRACEPARENT, TRACESTATE, BAGGAGE, and the
 * variables of the other configured propagators), and the spawn gets a span.
 *
 * - Only inside a recording span: without one (or unsampled), the call goes
 *   straight to Node after one check, and the child's environment is exactly
 *   what Node would have given it.
 * - The app's objects are never changed: the child gets a copy of the `env`
 *   the caller passed, or of the current process.env when it passed none, with
 *   the context written into the copy. Carriers already in that copy (this
 *   process may itself have been started with a TRACEPARENT) are replaced.
 * - The span is CLIENT: the child is another process, with its own resource,
 *   that continues the trace, exactly the relation of a call to another
 *   service; backends draw the edge to the child's spans from it. Named
 *   `<method> <executable>` (`spawn node`, `exec sh`), with
 *   process.executable.name (the file name only: no directory), the child's
 *   process.pid and process.exit.code. Never the arguments or the command
 *   line: they often hold tokens and passwords. It ends when the child exits
 *   (async forms) or the call returns (sync forms); a non-zero exit code, a
 *   signal or a failed spawn makes it ERROR.
 * - A sync form that throws (execSync on a non-zero exit) is not caught and
 *   rethrown, so the app's crash banner stays the app's (see
 *   http/sync-throw.ts): a `finally` ends the span as ERROR, without the code.
 * - `exec` runs through `execFile`: one span, for the outer call.
 */
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { InstrumentationBase, InstrumentationNodeModuleDefinition, isWrapped, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import type * as cpT from 'node:child_process';
import { errorMonitor } from 'node:events';
import { syncBuiltinESMExports } from 'node:module';
import { promisify } from 'node:util';
import { childEnv, type ParentEnv } from './env';
import { AGENT_VERSION } from '../../version';
import { executableName, locate, METHODS, type Method } from './args';

type AnyFn = (...args: unknown[]) => unknown;
type CpModule = typeof cpT & Record<string, unknown>;

const SYNC: ReadonlySet<Method> = new Set(['spawnSync', 'execFileSync', 'execSync']);

export interface ChildProcessConfig extends InstrumentationConfig {
  /** A fresh copy of process.env (src/config/index.ts is the one reader of process.env). */
  parentEnv?: ParentEnv;
}

export class ChildProcessInstrumentation extends InstrumentationBase<ChildProcessConfig> {
  /** > 0 while an exec() is calling execFile(): that inner call is not a second spawn. */
  private inner = 0;
  private failed = false;

  constructor(config: ChildProcessConfig = {}) {
    super('@x/otel-agent/child-process', AGENT_VERSION, config);
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'child_process',
        ['*'],
        (m: CpModule) => this.patch(m),
        (m: CpModule) => this.unpatch(m),
      ),
    ];
  }

  private patch(m: CpModule): CpModule {
    const ns = m as unknown as { [Symbol.toStringTag]?: string; default?: CpModule };
    const esm = ns[Symbol.toStringTag] === 'Module';
    const mod = esm && ns.default ? ns.default : m;
    let changed = false;
    for (const method of METHODS) {
      const orig = mod[method] as unknown as AnyFn;
      if (typeof orig !== 'function' || isWrapped(orig)) continue;
      const w = this.wrapper(method, orig, false);
      // exec and execFile carry their own util.promisify form (resolving { stdout, stderr }); a
      // wrapper without it would make promisify(exec) resolve with stdout alone.
      const custom = (orig as unknown as Record<symbol, unknown>)[promisify.custom];
      if (typeof custom === 'function') {
        Object.defineProperty(w, promisify.custom, {
          value: this.wrapper(method, custom as AnyFn, true),
          configurable: true,
          enumerable: false,
          writable: true,
        });
      }
      this._wrap(mod, method, (() => w) as never);
      changed = true;
    }
    // Named imports of a built-in (`import { spawn } from 'node:child_process'`) are live bindings Node refreshes on request.
    if (changed) syncBuiltinESMExports();
    if (esm) {
      for (const k of METHODS) {
        if (m[k] !== mod[k]) Object.defineProperty(m, k, { value: mod[k], configurable: true, enumerable: true, writable: true });
      }
    }
    return m;
  }

  private unpatch(m: CpModule): void {
    const ns = m as unknown as { [Symbol.toStringTag]?: string; default?: CpModule };
    const mod = ns[Symbol.toStringTag] === 'Module' && ns.default ? ns.default : m;
    for (const k of METHODS) if (isWrapped(mod[k])) this._unwrap(mod, k);
    syncBuiltinESMExports();
  }

  /** `promised`: util.promisify's form of exec/execFile, whose promise holds the ChildProcess as `.child`. */
  private wrapper(method: Method, original: AnyFn, promised: boolean): AnyFn {
    const inst = this;
    const sync = SYNC.has(method);
    return function tracedSpawn(this: unknown): unknown {
      // The cheap check first: no recording span (or the inner call of exec) costs nothing more.
      const ctx = context.active();
      const active = inst.inner > 0 || inst.failed ? undefined : trace.getSpan(ctx);
      if (!active?.isRecording() || isTracingSuppressed(ctx)) return original.apply(this, arguments as unknown as unknown[]);
      let span: Span | undefined;
      let args: unknown[];
      try {
        const given = Array.from(arguments as unknown as unknown[]);
        const at = locate(method, given);
        if (!at) return original.apply(this, given);
        const exe = executableName(method, given, at.options, process.platform);
        span = inst.tracer.startSpan(`${method} ${exe}`, { kind: SpanKind.CLIENT, attributes: { 'process.executable.name': exe } });
        args = at.rebuild({ ...at.options, env: childEnv(at.options?.env, span, inst.getConfig().parentEnv) });
      } catch (e) {
        span?.end();
        inst.fail(e);
        return original.apply(this, arguments as unknown as unknown[]);
      }
      let threw = true;
      let result: unknown;
      if (method === 'exec') inst.inner++;
      try {
        result = original.apply(this, args);
        threw = false;
      } finally {
        if (method === 'exec') inst.inner--;
        // No catch: a rethrow would make this line the app's crash site.
        if (threw) end(span, { status: 'threw' });
      }
      try {
        if (sync) endSync(span, result);
        else track(span, (promised ? (result as { child?: unknown } | undefined)?.child : result) as cpT.ChildProcess);
      } catch (e) {
        inst.fail(e);
      }
      return result;
    };
  }

  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const why = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 300);
    this._diag.warn(`instrumentation "child-process" threw (${why}); the call went on without it, and it is switched off for the rest of this process`);
  }
}

interface Outcome {
  pid?: number;
  code?: number | null;
  signal?: string | null;
  errorCode?: string;
  status?: 'threw';
}

function end(span: Span, o: Outcome): void {
  if (typeof o.pid === 'number') span.setAttribute('process.pid', o.pid);
  if (typeof o.code === 'number') span.setAttribute('process.exit.code', o.code);
  if (o.errorCode) {
    span.setAttribute('error.type', o.errorCode);
    span.setStatus({ code: SpanStatusCode.ERROR, message: `spawn failed: ${o.errorCode}` });
  } else if (o.status === 'threw') span.setStatus({ code: SpanStatusCode.ERROR, message: 'the call threw' });
  else if (o.signal) span.setStatus({ code: SpanStatusCode.ERROR, message: `killed by ${o.signal}` });
  else if (typeof o.code === 'number' && o.code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: `exit code ${o.code}` });
  span.end();
}

/** spawnSync returns the whole outcome; execSync / execFileSync return only the output (no pid) or throw. */
function endSync(span: Span, r: unknown): void {
  if (typeof r === 'object' && r !== null && !ArrayBuffer.isView(r) && 'status' in r) {
    const s = r as cpT.SpawnSyncReturns<unknown>;
    end(span, { pid: s.pid || undefined, code: s.status, signal: s.signal, errorCode: (s.error as NodeJS.ErrnoException | undefined)?.code });
  } else end(span, { code: 0 });
}

/** The async forms: observe the child without handling anything (errorMonitor consumes no 'error'). */
function track(span: Span, child: cpT.ChildProcess): void {
  if (typeof child?.once !== 'function') return end(span, {});
  let done = false;
  const pid = child.pid;
  child.once('exit', (code: number | null, signal: string | null) => {
    if (done) return;
    done = true;
    end(span, { pid: child.pid ?? pid, code, signal });
  });
  child.once(errorMonitor as unknown as 'error', (e: NodeJS.ErrnoException) => {
    if (done) return;
    // An error after the child started (a kill() that failed) is not the spawn failing.
    if (child.pid !== undefined) return;
    done = true;
    end(span, { errorCode: typeof e?.code === 'string' ? e.code : 'Error' });
  });
}
