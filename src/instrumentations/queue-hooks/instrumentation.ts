/**
 * OTEL_AGENT_QUEUE_HOOKS: wraps functions of the application's own modules
 * (named in the variable) as queue submit / execute / plain spans.
 *
 * The modules are the app's files, not packages with versions, so the usual
 * InstrumentationNodeModuleDefinition (matched by package name and version)
 * does not fit: the base class's absolute-path branch hands `_onRequire` the
 * file's base name, which never equals the definition's name, and tries to
 * read a version from the file's folder. This instrumentation therefore
 * registers its own hooks on the absolute file paths: require-in-the-middle for
 * require(), import-in-the-middle for import (the agent puts the same files on
 * import-in-the-middle's include list). Both are set up at agent start,
 * before the app loads anything.
 */
import { InstrumentationBase, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { Hook as RitmHook } from 'require-in-the-middle';
import { Hook as IitmHook } from 'import-in-the-middle';
import { AGENT_VERSION } from '../../version';
import { applyHook, type ModuleKind } from './patch';
import type { HookRuntime, ResolvedHook } from './wrap';

export interface QueueHookTarget {
  /** Absolute path of the module file (as require and import resolve it). */
  file?: string;
  /** A package specifier as written in the hook, for imports that resolve it to another file than require does. */
  specifier?: string;
  /** Shown in messages: the module as written in the hook. */
  module: string;
  hooks: ResolvedHook[];
}

export interface QueueHooksConfig extends InstrumentationConfig {
  targets: QueueHookTarget[];
  warnOnce(key: string, msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

export const REACH_NOTE =
  "Only functions reachable through the module's exports can be hooked: an exported function, `default`, " +
  'or a method of an exported class or object (Class.prototype.method). A function the module calls by its own ' +
  'local name never goes through the export, so those calls stay untraced.';

export class QueueHooksInstrumentation extends InstrumentationBase<QueueHooksConfig> {
  private readonly targets: QueueHookTarget[];
  private readonly out: Pick<QueueHooksConfig, 'warnOnce' | 'info' | 'debug'>;
  private readonly runtime: HookRuntime;
  private hooksInstalled: { unhook(): void }[] = [];

  constructor(config: QueueHooksConfig) {
    // Enabled below, once the fields this class needs exist.
    super('@x/otel-agent/queue-hooks', AGENT_VERSION, { ...config, enabled: false });
    this.targets = config.targets;
    this.out = { warnOnce: config.warnOnce, info: config.info, debug: config.debug };
    const self = this;
    this.runtime = {
      // Read on each call: the tracer follows a later setTracerProvider().
      get tracer() {
        return self.tracer;
      },
      warnOnce: config.warnOnce,
      enabled: () => this.isEnabled(),
    };
    if (config.enabled !== false) this.enable();
    process.once('exit', () => this.reportUnused());
  }

  protected init(): [] {
    return [];
  }

  override enable(): void {
    super.enable();
    if (this.hooksInstalled.length > 0) return;
    for (const t of this.targets) {
      if (t.file) {
        this.hooksInstalled.push(new RitmHook([t.file], { internals: true }, <T>(exports: T): T => this.patch(exports, t, 'cjs') as T));
      }
      const esmNames = [t.file, t.specifier].filter((n): n is string => typeof n === 'string');
      const seen = new WeakSet<object>();
      this.hooksInstalled.push(
        new IitmHook(esmNames, (namespace) => {
          // The same namespace can match both the file and the specifier.
          if (seen.has(namespace)) return;
          seen.add(namespace);
          this.patch(namespace, t, 'esm');
        }),
      );
    }
  }

  override disable(): void {
    // Wrappers check isEnabled() and call straight through; the hooks stay
    // registered so that enable() again needs no second set of them.
    super.disable();
  }

  private patch(exports: unknown, t: QueueHookTarget, kind: ModuleKind): unknown {
    let out = exports;
    for (const h of t.hooks) {
      try {
        const r = applyHook(out, h, kind, this.runtime);
        out = r.exports;
        if (r.error) {
          if (h.state !== 'patched') h.state = 'failed';
          this.out.warnOnce(
            `notfound:${h.spec.text}`,
            `OTEL_AGENT_QUEUE_HOOKS: hook "${h.spec.text}" not installed: in ${t.file ?? t.module}, ${r.error}. ${REACH_NOTE}`,
          );
        } else {
          h.state = 'patched';
          this.out.debug(`queue hook "${h.spec.text}" installed (${kind === 'cjs' ? 'require' : 'import'} of ${t.file ?? t.module})`);
        }
      } catch (e) {
        h.state = 'failed';
        this.out.warnOnce(`notfound:${h.spec.text}`, `OTEL_AGENT_QUEUE_HOOKS: hook "${h.spec.text}" not installed: ${(e as Error)?.message ?? String(e)}`);
      }
    }
    return out;
  }

  /** At exit, say which hooks did nothing, so an unreachable function is not a silent mystery. */
  private reportUnused(): void {
    for (const t of this.targets) {
      for (const h of t.hooks) {
        if (h.state === 'pending') {
          this.out.info(`queue hook "${h.spec.text}": ${t.module} was never loaded by this process, so the hook never applied`);
        } else if (h.state === 'patched' && h.calls === 0) {
          this.out.info(
            `queue hook "${h.spec.text}" was installed but its function was never called through the hooked export. ` +
              'If the module calls it by its local name, patching the export cannot reach those calls; hook an exported caller or a method instead.',
          );
        }
      }
    }
  }
}
