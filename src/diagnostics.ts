/**
 * What the agent tells the user about itself: the startup line, one debug line
 * per instrumented module (loaded how, which version, patched or skipped and
 * why), precise notes about a second OpenTelemetry copy, and, for
 * `otel-agent doctor`, a machine-readable report file.
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
import { context, SpanKind } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { AlwaysOnSampler, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { LeanTracerProvider } from './tracer';
import type { Resource } from '@opentelemetry/resources';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type * as fsT from 'node:fs';
import type * as pathT from 'node:path';
import type * as urlT from 'node:url';
import type * as moduleT from 'node:module';
import type { AgentConfig } from './env';
import type { AgentLog } from './log';
import type { ActivationRecord } from './instrumentations/loader';
import type { Entry } from './instrumentations/index';
import type { AgentExporter, ExportOutcome, PipelineStats } from './processor';
import { supported } from './doctor/semver';
import { AGENT_VERSION } from './version';

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

export interface ReportExport {
  exporter: string;
  ok: number;
  failed: number;
  lastError?: string;
}

/** The file OTEL_AGENT_DOCTOR_REPORT names; `otel-agent doctor` reads it. */
export interface DoctorReport {
  format: 1;
  final: boolean;
  agentVersion: string;
  node: string;
  pid: number;
  serviceName: string;
  exporters: string[];
  sampler: string;
  propagators: string[];
  hooks: { cjs: boolean; esm: 'sync' | 'async' | 'off' };
  instrumentations: { enabled: string[]; disabled: { name: string; reason: string }[] };
  conflicts: string[];
  activations: { name: string; trigger: string; how: How; atMs: number; ok: boolean; error?: string; instrumentations: number }[];
  modules: ModuleRecord[];
  exports: ReportExport[];
  testSpan?: { traceId: string; spanId: string; exported: boolean; error?: string };
  stats?: PipelineStats;
}

interface FileDef {
  name: string;
  supportedVersions: string[];
  patch?: (exports: unknown, version?: string) => unknown;
}

interface ModuleDef extends FileDef {
  includePrerelease?: boolean;
  files?: FileDef[];
  moduleVersion?: string;
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

function packageName(spec: string): string {
  const s = spec.startsWith('node:') ? spec.slice(5) : spec;
  const parts = s.split('/');
  return s.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

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

/**
 * The first function on a module's exports that another shimmer-based
 * instrumentation (a second OpenTelemetry SDK, an older agent) already wrapped.
 * Reads property descriptors only: a getter on exports may load optional
 * dependencies, which must not happen because we looked.
 */
export function foreignWrapper(exports: unknown): string | undefined {
  const wrapped = (f: unknown): boolean =>
    typeof f === 'function' && ((f as { __wrapped?: unknown }).__wrapped === true || typeof (f as { __original?: unknown }).__original === 'function');
  const scan = (obj: object, prefix: string, depth: number): string | undefined => {
    let names: (string | symbol)[];
    try {
      names = Reflect.ownKeys(obj).slice(0, 200);
    } catch {
      return undefined;
    }
    for (const k of names) {
      if (typeof k !== 'string' || k === 'constructor' || k === 'prototype' || k === 'caller' || k === 'arguments') continue;
      let d: PropertyDescriptor | undefined;
      try {
        d = Object.getOwnPropertyDescriptor(obj, k);
      } catch {
        continue;
      }
      const val: unknown = d && 'value' in d ? d.value : undefined;
      if (wrapped(val)) return prefix + k;
      if (depth > 0 && typeof val === 'function' && val.prototype && typeof val.prototype === 'object') {
        const hit = scan(val.prototype as object, `${prefix}${k}.prototype.`, 0);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  if (exports === null || (typeof exports !== 'object' && typeof exports !== 'function')) return undefined;
  if (wrapped(exports)) return '(module exports)';
  const own = scan(exports as object, '', 1);
  if (own) return own;
  const proto = (exports as { prototype?: unknown }).prototype;
  return typeof exports === 'function' && proto && typeof proto === 'object' ? scan(proto, 'prototype.', 0) : undefined;
}

/**
 * True when another copy of the API already holds this global. Checked before
 * registering, so the user gets our one precise line instead of the API's
 * generic "duplicate registration" error followed by ours.
 */
export function globalTaken(kind: 'trace' | 'context' | 'propagation'): boolean {
  const g = (globalThis as Record<symbol, Record<string, unknown> | undefined>)[Symbol.for('opentelemetry.js.api.1')];
  return !!g && g[kind] !== undefined;
}

/** Who owns the global OpenTelemetry API slot `kind`, for a precise conflict message. */
export function globalOwner(kind: 'trace' | 'context' | 'propagation'): string {
  const g = (globalThis as Record<symbol, unknown>)[Symbol.for('opentelemetry.js.api.1')] as
    | { version?: string; trace?: { getDelegate?: () => unknown }; [k: string]: unknown }
    | undefined;
  if (!g) return 'an unknown copy of @opentelemetry/api';
  const api = `@opentelemetry/api ${g.version ?? '(unknown version)'}`;
  if (kind !== 'trace') {
    const inst = g[kind] as object | undefined;
    return inst ? `${inst.constructor?.name ?? 'unknown'} via ${api}` : api;
  }
  try {
    const delegate = g.trace?.getDelegate?.() as object | undefined;
    const name = delegate?.constructor?.name;
    if (name) return `${name} via ${api}`;
  } catch {
    /* fall through to the generic description */
  }
  return `via ${api}`;
}

function disabledReason(entry: Entry, cfg: AgentConfig): string {
  if (cfg.disabledInstrumentations.includes(entry.name)) return 'disabled by OTEL_NODE_DISABLED_INSTRUMENTATIONS';
  return 'not listed in OTEL_NODE_ENABLED_INSTRUMENTATIONS';
}

const LOG_CORRELATION = new Set(['pino', 'winston', 'bunyan']);

const rangesOf = (defs: ModuleDef[]): string[] => [...new Set(defs.flatMap((d) => d.supportedVersions))];

/**
 * The instrumentation and those it wraps: upstream redis is a shell around one
 * instrumentation per client generation, each with its own live definitions.
 */
function withNested(inst: Instrumentation): Instrumentation[] {
  const out = [inst];
  for (const v of Object.values(inst as unknown as Record<string, unknown>)) {
    const n = v as { _modules?: unknown; instrumentationName?: unknown } | null;
    if (n && n !== (inst as unknown) && typeof n === 'object' && Array.isArray(n._modules) && typeof n.instrumentationName === 'string') out.push(n as unknown as Instrumentation);
  }
  return out;
}

export class Diagnostics {
  private readonly slots = new Map<string, Slot>();
  private readonly howBy = new Map<string, How>();
  private readonly disabledTriggers = new Map<string, { entry: Entry; reason: string }>();
  private readonly disabledPrefixes: [string, { entry: Entry; reason: string }][] = [];
  private readonly disabledSeen = new Set<string>();
  private readonly exportStats = new Map<string, ReportExport>();
  private readonly report: DoctorReport;
  private writing = false;
  private pendingWrite = false;
  private testSpanId: string | undefined;
  /** Resolutions and disabled modules are only watched when someone will read about them. */
  readonly observing: boolean;

  constructor(
    private readonly cfg: AgentConfig,
    private readonly log: AgentLog,
    allEntries: readonly Entry[],
    enabled: readonly Entry[],
  ) {
    this.observing = log.enabled('debug') || !!cfg.agent.doctorReport;
    const on = new Set(enabled.map((e) => e.name));
    const disabled = allEntries.filter((e) => !on.has(e.name)).map((e) => ({ entry: e, reason: disabledReason(e, cfg) }));
    if (this.observing) {
      for (const d of disabled) {
        for (const t of d.entry.triggers) {
          if (t.endsWith('/')) this.disabledPrefixes.push([t, d]);
          else this.disabledTriggers.set(t, d);
        }
      }
    }
    this.report = {
      format: 1,
      final: false,
      agentVersion: AGENT_VERSION,
      node: process.versions.node,
      pid: process.pid,
      serviceName: cfg.serviceName,
      exporters: [],
      sampler: cfg.sampler.name,
      propagators: [...cfg.propagators],
      hooks: { cjs: false, esm: 'off' },
      instrumentations: { enabled: [...on], disabled: disabled.map((d) => ({ name: d.entry.name, reason: d.reason })) },
      conflicts: [],
      activations: [],
      modules: [],
      exports: [],
    };
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

  startup(info: { serviceName: string; exporters: string[]; hooks: DoctorReport['hooks'] }): void {
    this.report.serviceName = info.serviceName;
    this.report.exporters = info.exporters;
    this.report.hooks = info.hooks;
    this.changed();
  }

  conflict(msg: string): void {
    this.report.conflicts.push(msg);
    this.log.warn(msg);
    this.changed();
  }

  /** Called by the lazy loader right after an entry's instrumentations were created, before its module loads. */
  activated(rec: ActivationRecord): void {
    this.report.activations.push({
      name: rec.name,
      trigger: rec.trigger,
      how: rec.how,
      atMs: now(),
      ok: rec.ok,
      error: rec.error,
      instrumentations: rec.instrumentations.length,
    });
    const pkg = packageName(rec.trigger === 'fetch' ? 'undici' : rec.trigger);
    const base = { module: rec.trigger === 'fetch' ? 'fetch (global)' : pkg, builtin: rec.trigger === 'fetch' || nodeModule.isBuiltin(pkg), how: rec.how, instrumentation: rec.name };
    if (!rec.ok) {
      this.addRecord({ ...base, atMs: now(), status: 'failed', reason: `instrumentation "${rec.name}" could not be loaded: ${rec.error ?? 'unknown error'}` });
      return;
    }
    if (rec.instrumentations.length === 0) {
      const why = LOG_CORRELATION.has(rec.name) && !this.cfg.agent.logCorrelation.includes(rec.name) ? `OTEL_AGENT_LOG_CORRELATION does not include ${rec.name}` : 'its configuration turns it off';
      this.addRecord({ ...base, atMs: now(), status: 'disabled', reason: `instrumentation "${rec.name}" created nothing: ${why}` });
      return;
    }
    let defs = 0;
    for (const inst of rec.instrumentations) for (const i of withNested(inst)) defs += this.watch(rec.name, i);
    if (defs === 0) {
      // undici and similar subscribe to diagnostics_channel: there is nothing to patch.
      this.addRecord({ ...base, atMs: now(), status: 'patched', reason: 'traced through diagnostics channels (nothing to patch)' });
    }
    this.changed();
  }

  private watch(instrumentation: string, inst: Instrumentation): number {
    // getModuleDefinitions() would build fresh copies via init(); the hooks use the live `_modules`.
    const defs = (inst as unknown as { _modules?: ModuleDef[] })._modules;
    if (!Array.isArray(defs)) return 0;
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

  private wrapPatch(slot: Slot, holder: FileDef, label: string, owner: string): void {
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
      const skippers = [...slot.owners].filter(([o, ds]) => !slot.patchedBy.has(o) && !ds.some((d) => supported(d.supportedVersions, slot.version, d.includePrerelease)));
      if (skippers.length) {
        rec.partial = skippers.map(([o, ds]) => `not by ${o}: version ${slot.version ?? '(unknown)'} is outside its range ${rangesOf(ds).join(' || ')}`).join('; ');
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
      this.report.modules.push(rec);
    }
    this.logRecord(rec);
    this.changed();
    // A module of this entry decided as skipped before the package it is built on was patched.
    if (rec.status === 'patched') {
      for (const o of this.slots.values()) if (o !== slot && o.instrumentation === slot.instrumentation && o.record?.status === 'skipped') this.decide(o, true);
    }
  }

  private addRecord(rec: ModuleRecord): void {
    this.report.modules.push(rec);
    this.logRecord(rec);
    this.changed();
  }

  private logRecord(r: ModuleRecord): void {
    if (!this.log.enabled('debug')) return;
    const what = `module "${r.module}" ${r.builtin ? '(Node builtin)' : r.version ?? '(version unknown)'}`;
    const how = r.how === 'fetch' ? 'first used' : `loaded by ${r.how ?? 'require or import'}`;
    const head = `${what} ${how} at +${r.atMs} ms: `;
    const by = `instrumentation "${r.instrumentation}"`;
    switch (r.status) {
      case 'patched':
        this.log.debug(`${head}patched by ${by}${r.patchedBy?.length ? ` (${r.patchedBy.join(', ')})` : ''}${r.reason ? `; ${r.reason}` : ''}${r.partial ? `; ${r.partial}` : ''}`);
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

  /** Wraps an exporter so the report knows what reached it (only when a report is written). */
  wrapExporter(e: AgentExporter): AgentExporter {
    if (!this.cfg.agent.doctorReport) return e;
    const st: ReportExport = { exporter: e.description, ok: 0, failed: 0 };
    this.exportStats.set(e.description, st);
    this.report.exports.push(st);
    const note = (spans: { spanContext(): { spanId: string } }[], o: ExportOutcome): void => {
      if (o.ok) st.ok += spans.length;
      else {
        st.failed += spans.length;
        st.lastError = o.error;
      }
      const t = this.report.testSpan;
      if (t && !t.exported && spans.some((s) => s.spanContext().spanId === this.testSpanId)) {
        t.exported = o.ok;
        t.error = o.ok ? undefined : o.error;
      }
      this.changed();
    };
    return {
      description: e.description,
      export: async (spans, onAccepted) => {
        let o: ExportOutcome;
        try {
          o = await e.export(spans, onAccepted);
        } catch (err) {
          note(spans, { ok: false, error: err instanceof Error ? err.message : String(err) });
          throw err;
        }
        note(spans, o);
        return o;
      },
      exportSync: (spans, timeoutMs) => {
        let o: ExportOutcome;
        try {
          o = e.exportSync(spans, timeoutMs);
        } catch (err) {
          note(spans, { ok: false, error: err instanceof Error ? err.message : String(err) });
          throw err;
        }
        note(spans, o);
        return o;
      },
      shutdown: () => e.shutdown(),
    };
  }

  /**
   * The doctor's test span: sampled regardless of OTEL_TRACES_SAMPLER (the
   * question is whether the endpoint accepts spans, not what the sampler keeps),
   * through the same processors and exporters as the app's spans.
   */
  emitTestSpan(resource: Resource, processors: SpanProcessor[]): void {
    if (!this.cfg.agent.doctorReport) return;
    const tp = new LeanTracerProvider({ resource, sampler: new AlwaysOnSampler(), spanProcessors: processors });
    const span = tp.getTracer('@x/otel-agent', AGENT_VERSION).startSpan('otel-agent doctor', {
      kind: SpanKind.INTERNAL,
      attributes: { 'otel_agent.doctor': true },
    });
    const sc = span.spanContext();
    this.testSpanId = sc.spanId;
    this.report.testSpan = { traceId: sc.traceId, spanId: sc.spanId, exported: false };
    span.end();
    this.changed();
  }

  /** Decides modules still waiting for their tick and writes the final report (the process is exiting). */
  final(stats: PipelineStats): void {
    for (const s of this.slots.values()) if (s.seen && !s.record) this.decide(s);
    this.report.stats = { ...stats };
    this.report.final = true;
    this.write();
  }

  get records(): readonly ModuleRecord[] {
    return this.report.modules;
  }

  private changed(): void {
    if (!this.cfg.agent.doctorReport) return;
    // Coalesce: module loads come in bursts, and the report only needs the latest state.
    if (this.pendingWrite) return;
    this.pendingWrite = true;
    const t = setImmediate(() => {
      this.pendingWrite = false;
      this.write();
    });
    t.unref();
  }

  private write(): void {
    const file = this.cfg.agent.doctorReport;
    if (!file || this.writing) return;
    this.writing = true;
    try {
      // Our own bookkeeping must not show up as fs spans inside the app's traces.
      context.with(suppressTracing(context.active()), () => {
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify(this.report, null, 2));
        fs.renameSync(tmp, file);
      });
    } catch (e) {
      this.log.warnOnce('doctor-report', `could not write OTEL_AGENT_DOCTOR_REPORT file ${file}: ${(e as Error).message}`);
    } finally {
      this.writing = false;
    }
  }
}

/** Describes the exporters for the startup line: destinations without credentials, header names without values. */
export function describeExporters(cfg: AgentConfig, descriptions: string[]): string {
  if (descriptions.length === 0) return cfg.tracesExporters.length === 0 ? 'exporter none (OTEL_TRACES_EXPORTER=none)' : 'exporter none (set-up failed, see above)';
  const headerNames = Object.keys(cfg.otlp.headers);
  return (
    `exporter ${descriptions.join(', ')}` +
    (headerNames.length && cfg.tracesExporters.includes('otlp') ? ` (headers: ${headerNames.map((h) => `${h}=<redacted>`).join(',')})` : '')
  );
}

export function describeHooks(cjs: boolean, esm: 'sync' | 'async' | 'off', cfg: AgentConfig): string {
  if (!cjs) return 'hooks none (no instrumentation enabled)';
  const e =
    esm === 'sync'
      ? 'ESM (in-thread sync hooks)'
      : esm === 'async'
        ? 'ESM (loader thread)'
        : cfg.agent.esmHooks === 'off'
          ? 'no ESM hooks (OTEL_AGENT_ESM_HOOKS=off)'
          : 'no ESM hooks';
  return `hooks CJS (require) + ${e}`;
}
