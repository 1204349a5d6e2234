/**
 * Reads the variables of src/config/spec.ts from an environment object: one
 * generic, typed reader per kind. A bad value gets one warning naming the
 * variable, the value (never a secret one) and what is used instead; an empty
 * or blank value means unset. It also records where each value came from, for
 * the doctor. It never writes to the environment it is given.
 */
import { defaultText } from './docs';
import { SPEC, type VarSpec } from './spec';

export type Env = Readonly<Record<string, string | undefined>>;
export interface Source {
  value: string;
  /** 'file': from OTEL_CONFIG_FILE, `origin` says where in it. */
  source: 'env' | 'default' | 'file';
  origin?: string;
  warning?: string;
}

type Spec = (typeof SPEC)[number];
type ValueOf<S> = S extends { kind: 'bool' }
  ? boolean
  : S extends { kind: 'int' | 'number' }
    ? number
    : S extends { kind: 'enum'; allowed: readonly (infer A)[] }
      ? A
      : S extends { kind: 'list'; allowed: readonly (infer A)[] }
        ? Exclude<A, 'none' | 'all'>[]
        : S extends { kind: 'names' }
          ? string[]
          : S extends { kind: 'pairs' }
            ? Record<string, string>
            : S extends { kind: 'url' | 'file' }
              ? string | undefined
              : string;
/** The value of every variable, typed by its spec entry: unset or invalid ones have their default. */
export type Values = { [S in Spec as S['name']]: ValueOf<S> };

/** A URL with its user name and password replaced, so credentials never reach the doctor's report. */
function withoutCredentials(u: string): string {
  try {
    const url = new URL(u);
    url.username = url.username ? 'REDACTED' : '';
    url.password = url.password ? 'REDACTED' : '';
    return url.toString();
  } catch {
    return u;
  }
}

export class Reader {
  readonly warnings: string[] = [];
  readonly sources: Record<string, Source> = {};
  private readonly values = new Map<string, unknown>();
  /** Names whose own value (not a default, not an inherited one) is in use. */
  private readonly fromEnv = new Set<string>();
  private readonly byName = new Map<string, VarSpec>(SPEC.map((s) => [s.name, s]));

  /**
   * `origin`: for values that came from a configuration file (the file's model mapped onto these names),
   * where each was written (`config.yaml:12 tracer_provider...`); warnings and sources then name that place.
   */
  constructor(
    private readonly env: Env,
    private readonly origin: Readonly<Record<string, string>> = {},
  ) {}

  raw(name: string): string | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    const t = v.trim();
    return t === '' ? undefined : t;
  }

  warn(name: string, value: string, problem: string, fallback: string, secret = false): void {
    const shownValue = secret ? '<redacted>' : JSON.stringify(value.length > 200 ? value.slice(0, 200) + '...' : value);
    const where = this.origin[name];
    const msg = where ? `${where} (${name}): ${shownValue} ${problem}; using ${fallback}` : `${name}=${shownValue} ${problem}; using ${fallback}`;
    this.warnings.push(msg);
    const src = this.sources[name];
    if (src) src.warning = src.warning ? `${src.warning}; ${msg}` : msg;
    else this.sources[name] = { ...this.from(name), value: secret ? '<redacted>' : value, warning: msg };
  }

  /** Every variable of the spec, read once each, in spec order; unset ones are listed with their default as their source. */
  readAll(): Values {
    const out: Record<string, unknown> = {};
    for (const s of SPEC) out[s.name] = this.get(s.name);
    for (const s of SPEC) if (!this.sources[s.name]) this.sources[s.name] = { value: defaultText(s), source: 'default' };
    return out as Values;
  }

  private get(name: string): unknown {
    if (this.values.has(name)) return this.values.get(name);
    const s = this.byName.get(name);
    if (!s) throw new Error(`${name} is not in src/config/spec.ts`);
    const v = this.read(s);
    this.values.set(name, v);
    return v;
  }

  private from(name: string): Pick<Source, 'source' | 'origin'> {
    const origin = this.origin[name];
    return origin ? { source: 'file', origin } : { source: 'env' };
  }

  private note(name: string, shown: string): void {
    this.sources[name] = { ...this.from(name), value: shown };
  }

  /** What an unset or invalid variable falls back to: its default, or the value of the variable it inherits from. */
  private fallback(s: VarSpec): { value: unknown; label: string } {
    if (s.inherits) {
      const value = this.get(s.inherits);
      const parent = this.byName.get(s.inherits)!;
      return { value, label: this.fromEnv.has(parent.name) ? String(value) : this.fallback(parent).label };
    }
    const d: unknown = s.kind === 'names' ? [] : 'default' in s ? s.default : undefined;
    const value = Array.isArray(d) ? [...(d as unknown[])] : d;
    return { value, label: defaultText(s).replace(/^\((.*)\)$/, '$1') };
  }

  private read(s: VarSpec): unknown {
    const v = this.raw(s.name);
    if (s.kind === 'pairs') return v === undefined ? {} : this.pairs(s, v);
    if (v === undefined) return this.fallback(s).value;
    this.note(s.name, s.kind === 'url' ? withoutCredentials(v) : v);
    const own = this.parse(s, v);
    if (own === undefined) return this.fallback(s).value;
    this.fromEnv.add(s.name);
    return own;
  }

  /** The value of a set variable, or undefined (after one warning) when it is not usable. */
  private parse(s: VarSpec, v: string): unknown {
    const dflt = (): string => `the default (${this.fallback(s).label})`;
    switch (s.kind) {
      case 'string':
        if (s.pattern && !s.pattern.test(v)) {
          this.warn(s.name, v, `is not ${s.what ?? 'valid'}`, dflt());
          return undefined;
        }
        return v;
      case 'bool': {
        const l = v.toLowerCase();
        if (l === 'true' || l === 'false') return l === 'true';
        this.warn(s.name, v, 'is not true or false', dflt());
        return undefined;
      }
      case 'int': {
        if (!/^[+]?\d+(\.0+)?$/.test(v) || !Number.isFinite(Number(v))) {
          this.warn(s.name, v, 'is not a whole number', dflt());
          return undefined;
        }
        const n = Number(v);
        if (n >= s.min && n <= s.max) return n;
        this.warn(s.name, v, `is outside ${s.min}..${s.max}`, dflt());
        return undefined;
      }
      case 'number': {
        const n = Number(v);
        if (Number.isFinite(n) && n >= s.min && n <= s.max) return n;
        this.warn(s.name, v, `is not a number in [${s.min}, ${s.max}]`, dflt());
        return undefined;
      }
      case 'enum': {
        const l = v.toLowerCase();
        if (s.allowed.includes(l)) return l;
        this.warn(s.name, v, `is not one of ${s.allowed.join(', ')}`, dflt());
        return undefined;
      }
      case 'list':
        return this.list(s, v, dflt);
      case 'names': {
        const items = splitList(v);
        const good = items.filter((i) => s.pattern.test(i));
        const bad = items.filter((i) => !s.pattern.test(i));
        if (bad.length)
          this.warn(s.name, v, `names invalid ${s.what}(s) ${bad.map((b) => JSON.stringify(b)).join(', ')}`, good.length ? 'the rest of the list' : dflt());
        return [...new Set(good)];
      }
      case 'url':
        try {
          const u = new URL(v);
          if (u.protocol === 'http:' || u.protocol === 'https:') return v;
        } catch {
          // not a URL at all: same warning as a non-http(s) one
        }
        this.warn(s.name, v, 'is not an http(s) URL', 'the default');
        return undefined;
      case 'file':
        return this.file(s, v);
      case 'pairs':
        return this.pairs(s, v);
    }
  }

  private list(s: Extract<VarSpec, { kind: 'list' }>, v: string, dflt: () => string): string[] | undefined {
    const items = splitList(v);
    const good = items.filter((i) => s.allowed.includes(i));
    const bad = items.filter((i) => !s.allowed.includes(i));
    // Nothing usable left: the default, not an empty list (an empty propagator or detector list would silently turn a feature off).
    if (bad.length)
      this.warn(
        s.name,
        v,
        `names unknown ${bad.length > 1 ? 'entries' : 'entry'} ${bad.join(', ')} (known: ${s.allowed.join(', ')})`,
        good.length ? 'the rest of the list' : dflt(),
      );
    if (!good.length) return undefined;
    if (good.includes('none')) return [];
    if (s.all && good.includes('all')) return [...s.all];
    return [...new Set(good)];
  }

  // An unreadable TLS file would otherwise take the whole exporter down at startup; warn and use the default instead.
  private file(s: VarSpec, v: string): string | undefined {
    const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
    try {
      fs.accessSync(v, fs.constants.R_OK);
      if (!fs.statSync(v).isFile()) throw Object.assign(new Error('not a file'), { code: 'not a file' });
      return v;
    } catch (e) {
      this.warn(s.name, v, `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, 'the default');
      return undefined;
    }
  }

  /** `k=v,k2=v2` with percent-encoded values (W3C baggage octets), as OTEL_RESOURCE_ATTRIBUTES and *_HEADERS use. */
  private pairs(s: VarSpec, v: string): Record<string, string> {
    const secret = s.secret === true;
    const out: Record<string, string> = {};
    const bad: string[] = [];
    for (const part of v.split(',')) {
      if (!part.trim()) continue;
      const eq = part.indexOf('=');
      const key = eq > 0 ? part.slice(0, eq).trim() : '';
      if (!key) {
        bad.push(secret ? '<redacted>' : part.trim());
        continue;
      }
      let val = part.slice(eq + 1).trim();
      try {
        val = decodeURIComponent(val);
      } catch {
        bad.push(secret ? key + '=<redacted>' : part.trim());
        continue;
      }
      out[key] = val;
    }
    this.note(
      s.name,
      secret
        ? Object.keys(out)
            .map((k) => `${k}=<redacted>`)
            .join(',')
        : v,
    );
    if (bad.length) this.warn(s.name, v, `has malformed entries (${bad.join(', ')}), expected key=value`, 'the well-formed entries', secret);
    return out;
  }
}

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean);
}
