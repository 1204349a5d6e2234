/**
 * Last line of defence against secrets in span attributes, whatever the
 * instrumentation: credentials in URLs and the values of signed-URL query
 * parameters are rewritten just before a span ends (onEnding still allows
 * setAttribute). Instrumentations already redact most of this; this catches
 * the ones that do not.
 */
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

const URL_KEYS = ['url.full', 'http.url', 'url.query', 'http.target', 'url.original', 'db.connection_string', 'server.address'];
/**
 * Query parameter names whose values are replaced by REDACTED. Names are
 * compared after percent-decoding, lower-casing and dropping everything but
 * letters and digits, so `api_key`, `api-key`, `apiKey`, `API.KEY` and
 * `user[api_key]` are one name (`apikey`). The list joins the semantic
 * conventions' url.query defaults (AWSAccessKeyId, Signature, sig,
 * X-Goog-Signature), dd-trace's default query obfuscation (passwords, pass
 * phrases, secrets, keys, tokens, signatures, auth) and the Elastic Java
 * agent's sanitize_field_names (*key, *token*, *session*, *auth*), plus the
 * one-time codes OWASP lists as credentials. docs-notes/privacy-redis.md has
 * the list for users.
 */
const SENSITIVE_EXACT = /^(?:sig|pin|otp|totp|hotp|mfa|code|sid|jwt|pass|cookie|ticket|assertion|samlresponse|samlrequest|cvv|cvc|ssn)$/;
const SENSITIVE_SUFFIX =
  /(?:token|secret|password|passwd|pwd|passphrase|passcode|key|keyid|signature|credential|credentials|session|sessionid|sessid|auth|authorization|authentication|(?:auth|otp|mfa|verification|verify|confirmation|security|reset|recovery|activation|access)code)$/;
const SENSITIVE_PREFIX = /^(?:secret|password|passwd|token|session|auth(?!or))/;

/** Shared by every bundled copy of this module (the http instrumentation has its own): set once at startup. */
const EXTRA = Symbol.for('@x/otel-agent/redact-query-names');
type Extra = { exact: Set<string>; patterns: RegExp[] };

export function normalizeQueryName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9*]/g, '');
}

/**
 * Adds names to the default list (OTEL_AGENT_REDACT_QUERY_PARAMS). Each is
 * normalized like the names it is compared with; `*` matches any run of
 * characters (`*_ref` -> every name ending in `ref`).
 */
export function configureQueryRedaction(names: readonly string[]): void {
  const extra: Extra = { exact: new Set(), patterns: [] };
  for (const n of names) {
    const norm = normalizeQueryName(n);
    if (!norm || norm === '*') continue;
    if (norm.includes('*')) extra.patterns.push(new RegExp(`^${norm.split('*').join('.*')}$`));
    else extra.exact.add(norm);
  }
  (globalThis as Record<symbol, unknown>)[EXTRA] = extra.exact.size || extra.patterns.length ? extra : undefined;
}

export function isSensitiveQueryName(rawName: string): boolean {
  let name = rawName;
  try {
    name = decodeURIComponent(rawName.replace(/\+/g, ' '));
  } catch {
    /* keep raw */
  }
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (!n) return false;
  if (SENSITIVE_EXACT.test(n) || SENSITIVE_SUFFIX.test(n) || SENSITIVE_PREFIX.test(n)) return true;
  const extra = (globalThis as Record<symbol, Extra | undefined>)[EXTRA];
  return !!extra && (extra.exact.has(n) || extra.patterns.some((p) => p.test(n)));
}

/** `a=1&sig=abc;pin=1` -> `a=1&sig=REDACTED;pin=REDACTED`; the query alone, without `?`. Both `&` and `;` separate parameters. */
export function redactQuery(query: string): string {
  if (!query.includes('=')) return query;
  const parts = query.split(/([&;])/);
  for (let i = 0; i < parts.length; i += 2) {
    const kv = parts[i]!;
    const eq = kv.indexOf('=');
    if (eq > 0 && isSensitiveQueryName(kv.slice(0, eq))) parts[i] = `${kv.slice(0, eq)}=REDACTED`;
  }
  return parts.join('');
}

export function redactUrlLike(v: string): string {
  // user:pass@ in any scheme; greedy to the last @ of the authority, as URL parsers read it.
  let out = v.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/i, '$1REDACTED:REDACTED@');
  const q = out.indexOf('?');
  // Without `?`, a value that does not start like a URL is taken to be a bare query (url.query).
  if (q < 0 && /^[a-z][a-z0-9+.-]*:\/\//i.test(out)) return out;
  const start = q >= 0 ? q + 1 : 0;
  const hash = out.indexOf('#', start);
  out = out.slice(0, start) + redactQuery(out.slice(start, hash >= 0 ? hash : undefined)) + (hash >= 0 ? out.slice(hash) : '');
  return out;
}

/** A value that may hold credentials or a query string. */
const suspect = (v: unknown): boolean => typeof v === 'string' && (v.includes('@') || v.includes('='));

export class RedactingProcessor implements SpanProcessor {
  onStart(_s: Span, _c: Context): void {}
  onEnding(span: Span): void {
    const attrs = span.attributes;
    // Runs for every span, and most have none of these keys. Seven literal
    // property reads cost about half of a loop over URL_KEYS, whose
    // changing keys make every read a generic lookup. Same keys as URL_KEYS.
    if (
      !suspect(attrs['url.full']) &&
      !suspect(attrs['http.url']) &&
      !suspect(attrs['url.query']) &&
      !suspect(attrs['http.target']) &&
      !suspect(attrs['url.original']) &&
      !suspect(attrs['db.connection_string']) &&
      !suspect(attrs['server.address'])
    )
      return;
    for (const k of URL_KEYS) {
      const v = attrs[k];
      if (typeof v === 'string' && (v.includes('@') || v.includes('='))) {
        const r = k === 'url.query' ? redactQuery(v) : redactUrlLike(v);
        if (r !== v) span.setAttribute(k, r);
      }
    }
  }
  onEnd(_s: ReadableSpan): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
