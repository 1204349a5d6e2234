/**
 * Module watching: for every module an enabled instrumentation targets, what
 * was loaded (how, which version, when) and whether it was patched, skipped
 * or covered, and why. Feeds one debug line per module and the doctor's report
 * (doctor-report.ts), which receives each record through the sink.
 *
 * "Patched or skipped" is observed, not guessed: InstrumentationBase sets
 * `moduleVersion` on its live module definition and then calls `patch` only if
 * the version is supported, all synchronously inside the module load. We watch
 * both (an accessor on `moduleVersion`, a wrapper around each `patch`) and
 * decide one tick after the first load: a patch ran -> patched; none ran and
 * the version is outside every range -> skipped, with the ranges.
 *
 * A patch that throws is recorded as failed and the error passed on to the
 * containment wrapper (contain.ts), which warns and keeps the app running.
 *
 * One entry can patch a module with several instrumentations (upstream's and
 * the agent's own layers, some nested inside a wrapper such as upstream
 * redis'): the record names each one that patched it, with its version, and
 * each one that skipped it because of the version. A module none of them
 * patches while the same entry patches the package it is built on (`redis`
 * 4+ over `@redis/client`) is `covered`, not skipped.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type * as fsT from 'node:fs';
import type * as pathT from 'node:path';
import type * as urlT from 'node:url';
import type * as moduleT from 'node:module';
import type { AgentConfig } from './env';
import type { AgentLog } from './log';
import type { ActivationRecord } from './instrumentations/loader';
import type { Entry } from './instrumentations/index';
import { supported } from './doctor/semver';
import { disabledReason } from './disabled-reason';
import { packageName } from './package-name';
import { foreignWrapper } from './foreign-wrapper';
import { moduleDefs, nestedInstrumentations, type ModuleDef } from './otel-internals';

const fs = process.getBuiltinModule('node:fs') as typeof fsT;
const path = process.getBuiltinModule('node:path') as typeof pathT;
const url = process.getBuiltinModule('node:url') as typeof urlT;
const nodeModule = process.getBuiltinModule('node:module') as unknown as { isBuiltin: (typeof moduleT)['isBuiltin'] };

export type How = ActivationRecord['how'];

export interface ModuleRecord {
  module: string;
  version?: string;
  builtin: boolean;
  how?: How;
  /** Milliseconds since the process started. */
  atMs: number;
  instrumentation: string;
  status: 'patched' | 'skipped' | 'covered' | 'disabled' | 'failed' | 'pending';
  reason?: string;
  /** The instrumentations (package name and version) whose patches ran on this module. */
  patchedBy?: string[];
  /** Patched, but one of the entry's instrumentations skipped this version: which, and its range. */
  partial?: string;
  /** `covered`: the module of the same entry that is patched instead (`@redis/client 6.3.1`). */
  coveredBy?: string;
  ranges?: string[];
  /** A function another instrumentation had wrapped before ours ran (e.g. `Client.prototype.query`). */
  foreignWrapper?: string;
}

/** Where records go: the doctor's report keeps them, and rewrites its file on each change. */
export interface RecordSink {
  add(rec: ModuleRecord): void;
  changed(): void;
}

interface Slot {
  instrumentation: string;
  module: string;
  defs: ModuleDef[];
  /** `<instrumentation package> <version>` -> its definitions for this module. */
  owners: Map<string, ModuleDef[]>;
  patchedBy: Set<string>;
  seen: boolean;
  atMs: number;
  version?: string;
  patched: string[];
  failed?: string;
  foreign?: string;
  record?: ModuleRecord;
}

const now = (): number => Math.round(performance.now());

/** The version of `pkg` from the file it resolved to, without loading it. */
function versionFromUrl(pkg: string, resolved: string | undefined): string | undefined {
  if (!resolved || !resolved.startsWith('file:')) return undefined;
  try {
    const file = url.fileURLToPath(resolved);
    const marker = `${path.sep}node_modules${path.sep}${pkg.split('/').join(path.sep)}${path.sep}`;
    const i = file.lastIndexOf(marker);
    if (i < 0) return undefined;
    const j = JSON.parse(fs.readFileSync(file.slice(0, i + marker.length) + 'package.json', 'utf8')) as { version?: unknown };
    return typeof j.version === 'string' ? j.version : undefined;
  } catch {
    return undefined;
  }
}

const LOG_CORRELATION = new Set(['pino', 'winston', 'bunyan']);

const rangesOf = (defs: ModuleDef[]): string[] => [...new Set(defs.flatMap((d) => d.supportedVersions))];

/** The instrumentation and those it wraps, each with its own live definitions. */
const withNested = (inst: Instrumentation): Instrumentation[] => [inst, ...nestedInstrumentations(inst)];

export class ModuleWatcher {
  private readonly slots = new Map<string, Slot>();
  private readonly howBy = new Map<string, How>();
  private readonly disabledTriggers = new Map<string, { entry: Entry; reason: string }>();
  private readonly disabledPrefixes: [string, { entry: Entry; reason: string }][] = [];
  private readonly disabledSeen = new Set<string>();
  /** Resolutions and disabled modules are only watched when someone will read about them. */
  readonly observing: boolean;

  /** `off`: the entries that are not enabled; a load of their modules is recorded as disabled, with why. */
  constructor(
    private readonly cfg: AgentConfig,
    private readonly log: AgentLog,
    private readonly sink: RecordSink,
    off: readonly Entry[],
  ) {
    this.observing = log.enabled('debug') || !!cfg.agent.doctorReport;
    if (this.observing) {
      for (const d of off.map((e) => ({ entry: e, reason: disabledReason(e, cfg) }))) {
        for (const t of d.entry.triggers) {
          if (t.endsWith('/')) this.disabledPrefixes.push([t, d]);
          else this.disabledTriggers.set(t, d);
        }
      }
    }
  }

  /** The resolve-hook observer for the lazy loader, or undefined when nobody reads the results. */
  observer(): ((pkg: string, how: How, resolvedUrl: string | undefined) => void) | undefined {
    if (!this.observing) return undefined;
    return (pkg, how, resolvedUrl) => {
      if (!this.howBy.has(pkg)) this.howBy.set(pkg, how);
      let d = this.disabledTriggers.get(pkg);
      if (!d) for (const [p, pd] of this.disabledPrefixes) if (pkg.startsWith(p)) d = pd;
      if (!d || this.disabledSeen.has(d.entry.name)) return;
      this.disabledSeen.add(d.entry.name);
      this.addRecord({
        module: pkg,
        version: versionFromUrl(pkg, resolvedUrl),
        builtin: nodeModule.isBuiltin(pkg),
        how,
        atMs: now(),
        instrumentation: d.entry.name,
        status: 'disabled',
        reason: `instrumentation "${d.entry.name}" is ${d.reason}`,
      });
    };
  }

  /** Called by the lazy loader right after an entry's instrumentations were created, before its module loads. */
  activated(rec: ActivationRecord): void {
    const pkg = packageName(rec.trigger === 'fetch' ? 'undici' : rec.trigger);
    const base = {
      module: rec.trigger === 'fetch' ? 'fetch (global)' : pkg,
      builtin: rec.trigger === 'fetch' || nodeModule.isBuiltin(pkg),
      how: rec.how,
      instrumentation: rec.name,
    };
    if (!rec.ok) {
      this.addRecord({ ...base, atMs: now(), status: 'failed', reason: `instrumentation "${rec.name}" could not be loaded: ${rec.error ?? 'unknown error'}` });
      return;
    }
    if (rec.instrumentations.length === 0) {
      const why =
        LOG_CORRELATION.has(rec.name) && !this.cfg.agent.logCorrelation.includes(rec.name)
          ? `OTEL_AGENT_LOG_CORRELATION does not include ${rec.name}`
          : 'its configuration turns it off';
      this.addRecord({ ...base, atMs: now(), status: 'disabled', reason: `instrumentation "${rec.name}" created nothing: ${why}` });
      return;
    }
    let defs = 0;
    for (const inst of rec.instrumentations) for (const i of withNested(inst)) defs += this.watch(rec.name, i);
    if (defs === 0) {
      // undici and similar subscribe to diagnostics_channel: there is nothing to patch.
      this.addRecord({ ...base, atMs: now(), status: 'patched', reason: 'traced through diagnostics channels (nothing to patch)' });
    }
    this.sink.changed();
  }

  private watch(instrumentation: string, inst: Instrumentation): number {
    const defs = moduleDefs(inst, this.log);
    if (!defs) return 0;
    const owner = `${inst.instrumentationName} ${inst.instrumentationVersion}`;
    for (const def of defs) {
      const key = `${instrumentation}\0${def.name}`;
      let slot = this.slots.get(key);
      if (!slot) {
        slot = { instrumentation, module: def.name, defs: [], owners: new Map(), patchedBy: new Set(), seen: false, atMs: 0, patched: [] };
        this.slots.set(key, slot);
      }
      slot.defs.push(def);
      slot.owners.set(owner, [...(slot.owners.get(owner) ?? []), def]);
      const s = slot;
      try {
        let version: string | undefined = def.moduleVersion;
        Object.defineProperty(def, 'moduleVersion', {
          configurable: true,
          enumerable: true,
          get: () => version,
          set: (v: string | undefined) => {
            version = v;
            if (v !== undefined) s.version = v;
            this.seen(s);
          },
        });
      } catch {
        /* a frozen definition: we still see its patches */
      }
      this.wrapPatch(s, def, def.name, owner);
      for (const f of def.files ?? []) this.wrapPatch(s, f, f.name, owner);
    }
    return defs.length;
  }

  private wrapPatch(slot: Slot, holder: ModuleDef, label: string, owner: string): void {
    const orig = holder.patch;
    if (typeof orig !== 'function') return;
    const self = this;
    holder.patch = function patchObserved(this: unknown, exports: unknown, version?: string): unknown {
      if (slot.patched.length === 0 && !slot.foreign) {
        try {
          const w = foreignWrapper(exports);
          if (w) slot.foreign = `${label === slot.module ? '' : label + ': '}${w}`;
        } catch {
          /* looking must never fail a load */
        }
      }
      let out: unknown;
      try {
        out = orig.call(this, exports, version);
      } catch (e) {
        // Recorded, then passed on: containment (contain.ts, wrapped around this) warns and hands the app the unpatched module.
        slot.failed = e instanceof Error ? e.message : String(e);
        self.seen(slot);
        throw e;
      }
      slot.patched.push(label);
      slot.patchedBy.add(owner);
      self.seen(slot);
      return out;
    };
  }

  private seen(slot: Slot): void {
    if (!slot.seen) {
      slot.seen = true;
      slot.atMs = now();
      // The loader sets the version, then patches, all synchronously inside
      // this module load: decide once the load is over.
      const t = setImmediate(() => this.decide(slot));
      t.unref();
      return;
    }
    if (slot.record && slot.record.status === 'pending' && (slot.patched.length || slot.failed)) this.decide(slot);
  }

  private decide(slot: Slot, again = false): void {
    if (slot.record && slot.record.status !== 'pending' && !again) return;
    const ranges = [...new Set(slot.defs.flatMap((d) => d.supportedVersions))];
    const builtin = nodeModule.isBuiltin(slot.module);
    const rec: ModuleRecord = {
      module: slot.module,
      version: slot.version,
      builtin,
      how: this.howBy.get(packageName(slot.module)),
      atMs: slot.atMs,
      instrumentation: slot.instrumentation,
      status: 'pending',
      ranges: builtin ? undefined : ranges,
    };
    if (slot.failed) {
      rec.status = 'failed';
      rec.reason = `the patch threw: ${slot.failed}`;
    } else if (slot.patched.length) {
      rec.status = 'patched';
      rec.patchedBy = [...slot.patchedBy];
      const skippers = [...slot.owners].filter(
        ([o, ds]) => !slot.patchedBy.has(o) && !ds.some((d) => supported(d.supportedVersions, slot.version, d.includePrerelease)),
      );
      if (skippers.length) {
        rec.partial = skippers
          .map(([o, ds]) => `not by ${o}: version ${slot.version ?? '(unknown)'} is outside its range ${rangesOf(ds).join(' || ')}`)
          .join('; ');
      }
      if (slot.foreign) {
        rec.foreignWrapper = slot.foreign;
        rec.reason = `${slot.foreign} was already wrapped by another instrumentation (a second OpenTelemetry SDK or agent?); this agent's wrapper replaced it`;
      }
    } else if (!slot.defs.some((d) => supported(d.supportedVersions, slot.version, d.includePrerelease))) {
      const via = [...this.slots.values()].find((o) => o !== slot && o.instrumentation === slot.instrumentation && o.patched.length > 0 && !o.failed);
      if (via) {
        rec.status = 'covered';
        rec.coveredBy = `${via.module}${via.version ? ` ${via.version}` : ''}`;
        rec.reason = `${slot.module} ${slot.version ?? '(unknown)'} itself is not patched: ${[...slot.owners].map(([o, ds]) => `${o} patches it at ${rangesOf(ds).join(' || ')}`).join(', ')}`;
      } else {
        rec.status = 'skipped';
        rec.reason = `version ${slot.version ?? '(unknown)'} is outside the supported range ${ranges.join(' || ')}`;
      }
    } else {
      rec.reason = 'in the supported range, but the files this instrumentation patches have not been loaded yet';
    }
    if (slot.record) Object.assign(slot.record, rec);
    else {
      slot.record = rec;
      this.sink.add(rec);
    }
    this.logRecord(rec);
    this.sink.changed();
    // A module of this entry decided as skipped before the package it is built on was patched.
    if (rec.status === 'patched') {
      for (const o of this.slots.values()) if (o !== slot && o.instrumentation === slot.instrumentation && o.record?.status === 'skipped') this.decide(o, true);
    }
  }

  private addRecord(rec: ModuleRecord): void {
    this.sink.add(rec);
    this.logRecord(rec);
    this.sink.changed();
  }

  private logRecord(r: ModuleRecord): void {
    if (!this.log.enabled('debug')) return;
    const what = `module "${r.module}" ${r.builtin ? '(Node builtin)' : (r.version ?? '(version unknown)')}`;
    const how = r.how === 'fetch' ? 'first used' : r.how === 'bundle' ? 'loaded from the bundle' : `loaded by ${r.how ?? 'require or import'}`;
    const head = `${what} ${how} at +${r.atMs} ms: `;
    const by = `instrumentation "${r.instrumentation}"`;
    switch (r.status) {
      case 'patched':
        this.log.debug(
          `${head}patched by ${by}${r.patchedBy?.length ? ` (${r.patchedBy.join(', ')})` : ''}${r.reason ? `; ${r.reason}` : ''}${r.partial ? `; ${r.partial}` : ''}`,
        );
        break;
      case 'covered':
        this.log.debug(`${head}traced by ${by} through ${r.coveredBy} (patched); ${r.reason}`);
        break;
      case 'skipped':
        this.log.debug(`${head}skipped by ${by}: ${r.reason}`);
        break;
      case 'pending':
        this.log.debug(`${head}not patched yet by ${by}: ${r.reason}`);
        break;
      default:
        this.log.debug(`${head}not patched: ${r.reason}`);
    }
  }

  /** Decides the modules still waiting for their tick (the process is exiting). */
  final(): void {
    for (const s of this.slots.values()) if (s.seen && !s.record) this.decide(s);
  }
}
