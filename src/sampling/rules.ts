/**
 * Sampling rules: "do not trace /healthz", "keep /checkout at 100% and the
 * rest at 5%". Each rule matches what is known when a span starts (its kind,
 * its name, the attributes the instrumentation passes at start: `url.path`,
 * `http.request.method`, `server.address`, `messaging.destination.name`, ...)
 * and either drops the span or samples it at a ratio. The first rule that
 * matches decides; no match leaves the decision to the configured sampler.
 *
 * Rules decide for the spans that begin a trace in this process: roots, and
 * spans continuing a caller's trace (remote parent), where the caller's
 * decision wins unless the rule says `override_parent`. A span with a local
 * parent follows its parent, so a request's children are never split from it,
 * with one exception: the rules that name `span_kind: client` also decide for a
 * CLIENT span with a parent (local or remote), so "never trace calls to the
 * metadata server" holds inside traced requests too. They can only lower the
 * parent's decision: a `drop` rule drops the call, a `sample` rule keeps it as the
 * parent decided (no ratio within a sampled trace; counted only under a sampled
 * parent). A dropped call still propagates its context, unsampled, so the called
 * service (when it follows its caller) does not trace it either.
 *
 * Every decision a rule makes is counted: the counts go to debug output
 * and to the exit summary.
 */
import { trace, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace';

export type RuleKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

export interface SamplingRuleSpec {
  /** Span kind; any when absent. */
  kind?: RuleKind;
  /** The span's name at start, `*` as a wildcard. */
  name?: string;
  /** Attribute values at start, `*` as a wildcard; every one given must match. */
  attributes?: Readonly<Record<string, string>>;
  action: 'drop' | 'sample';
  /** For `sample`: the ratio in [0, 1] (1 when absent). */
  ratio?: number;
  /** Applies to spans continuing a caller's trace too (the caller's decision wins otherwise). */
  overrideParent?: boolean;
  /** How the rule is named in counts and warnings (`rule 2 (drop url.path=/health*)`). */
  label: string;
}

/** The probes `OTEL_AGENT_DROP_PROBES=true` drops: SERVER spans for these paths, with or without a trailing slash. */
export const PROBE_PATHS = ['/health', '/healthz', '/ready', '/readyz', '/live', '/livez', '/metrics', '/favicon.ico'] as const;

export function probeRules(): SamplingRuleSpec[] {
  return PROBE_PATHS.map((p) => ({
    kind: 'server' as const,
    attributes: { 'url.path': p.endsWith('.ico') ? p : `${p}{,/}` },
    action: 'drop' as const,
    label: `probe ${p}`,
  }));
}

const KINDS: Record<RuleKind, SpanKind> = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 };
const CLIENT_KIND = KINDS.client;
const SAMPLED_FLAG = 0x01;

/** `*` any run of characters, `{a,b}` alternatives; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${glob
          .slice(i + 1, end)
          .split(',')
          .map((alt) => alt.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
          .join('|')})`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

interface Compiled {
  spec: SamplingRuleSpec;
  kind?: SpanKind;
  name?: RegExp;
  attributes: [string, RegExp][];
  sampler: Sampler;
  kept: number;
  dropped: number;
}

/** A string value, or a number as written (`server.port: 443`). */
const matches = (re: RegExp, v: unknown): boolean => (typeof v === 'string' ? re.test(v) : typeof v === 'number' && re.test(String(v)));

function firstMatch(rules: readonly Compiled[], kind: SpanKind, name: string, attributes: Attributes): Compiled | undefined {
  for (const r of rules) {
    if (r.kind !== undefined && r.kind !== kind) continue;
    if (r.name && !r.name.test(name)) continue;
    if (!r.attributes.every(([k, re]) => matches(re, attributes[k]))) continue;
    return r;
  }
  return undefined;
}

const DROP: SamplingResult = Object.freeze({ decision: SamplingDecision.NOT_RECORD });

function count(r: Compiled, result: SamplingResult): SamplingResult {
  if (result.decision === SamplingDecision.RECORD_AND_SAMPLED) r.kept++;
  else r.dropped++;
  return result;
}

/** A `drop` rule decided (not a ratio): local tail mode (tail.ts) records nothing for it. */
export const isRuleDrop = (r: SamplingResult): boolean => r === DROP;

export class RuleSampler implements Sampler {
  private readonly rules: Compiled[];
  /** The `span_kind: client` rules, in order: the only ones that decide for a span with a local parent (see the top of this file). */
  private readonly client: Compiled[];

  /** `ratio(r)` makes the sampler a `sample` rule uses, so rules sample the way the configured ratio sampler does. */
  constructor(
    specs: readonly SamplingRuleSpec[],
    private readonly fallback: Sampler,
    ratio: (r: number) => Sampler,
  ) {
    this.rules = specs.map((spec) => ({
      spec,
      kind: spec.kind === undefined ? undefined : KINDS[spec.kind],
      name: spec.name === undefined ? undefined : globToRegExp(spec.name),
      attributes: Object.entries(spec.attributes ?? {}).map(([k, v]) => [k, globToRegExp(v)]),
      sampler: ratio(spec.action === 'drop' ? 0 : (spec.ratio ?? 1)),
      kept: 0,
      dropped: 0,
    }));
    this.client = this.rules.filter((r) => r.kind === CLIENT_KIND);
  }

  /** Whether any rule reads attributes: instrumentations then pass them at span start. */
  get readsAttributes(): boolean {
    return this.rules.some((r) => r.attributes.length > 0);
  }

  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    const parent = trace.getSpanContext(ctx);
    if (parent) {
      // A CLIENT span with a parent meets the client rules (one length check when there are none).
      if (kind === CLIENT_KIND && this.client.length) {
        const r = firstMatch(this.client, kind, name, attributes);
        if (r && !(parent.isRemote && r.spec.overrideParent)) {
          // Dropped whatever the parent decided: in local tail mode an unsampled request's call is not recorded either.
          if (r.spec.action === 'drop') return count(r, DROP);
          // A `sample` rule keeps the call as its parent decided (its ratio would split a sampled trace and
          // contradict the threshold the trace carries), and shields it from the drop rules after it.
          const result = this.fallback.shouldSample(ctx, traceId, name, kind, attributes, links);
          return (parent.traceFlags & SAMPLED_FLAG) !== 0 ? count(r, result) : result;
        }
      }
      // A local parent: follow it (the fallback is parent-based or decides the same for the whole trace).
      if (!parent.isRemote) return this.fallback.shouldSample(ctx, traceId, name, kind, attributes, links);
    }
    const r = firstMatch(this.rules, kind, name, attributes);
    if (r && (!parent || r.spec.overrideParent)) {
      return count(r, r.spec.action === 'drop' ? DROP : r.sampler.shouldSample(ctx, traceId, name, kind, attributes, links));
    }
    return this.fallback.shouldSample(ctx, traceId, name, kind, attributes, links);
  }

  /** How many decisions the rules made so far (for noticing a change cheaply). */
  decided(): number {
    let n = 0;
    for (const r of this.rules) n += r.kept + r.dropped;
    return n;
  }

  /** `probe /health: 12 dropped; rule 1 (sample url.path=/checkout*): 40 kept`: only rules that decided something. */
  counts(): string | undefined {
    const parts = this.rules
      .filter((r) => r.kept || r.dropped)
      .map((r) => `${r.spec.label}: ${[r.kept ? `${r.kept} kept` : '', r.dropped ? `${r.dropped} dropped` : ''].filter(Boolean).join(', ')}`);
    return parts.length ? `sampling rules: ${parts.join('; ')}` : undefined;
  }

  toString(): string {
    return `RuleSampler{${this.rules.length} rules, else ${this.fallback.toString()}}`;
  }
}
