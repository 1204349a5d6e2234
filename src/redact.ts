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
/** Query parameters whose values are secrets: signed-URL signatures and credentials, and any *token/*secret/*password/*api_key. */
const SENSITIVE_QUERY =
  /^(?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|awsaccesskeyid|key|secret|password|passwd|pwd|auth|code|jwt|credential|.*(?:token|secret|password|api[_-]?key|signature))$/i;

/** `a=1&sig=abc` -> `a=1&sig=REDACTED`; the query alone, without `?`. */
export function redactQuery(query: string): string {
  if (!query.includes('=')) return query;
  return query
    .split('&')
    .map((kv) => {
      const eq = kv.indexOf('=');
      if (eq < 0) return kv;
      let k = kv.slice(0, eq);
      try {
        k = decodeURIComponent(k.replace(/\+/g, ' '));
      } catch {
        /* keep raw */
      }
      return SENSITIVE_QUERY.test(k) ? `${kv.slice(0, eq)}=REDACTED` : kv;
    })
    .join('&');
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
