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
const SENSITIVE_QUERY = /^(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|awsaccesskeyid|token|access_token|id_token|refresh_token|api_key|apikey|api-key|key|secret|client_secret|password|passwd|pwd|auth|code)$/i;

export function redactUrlLike(v: string): string {
  let out = v;
  // user:pass@ in any scheme
  out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]+)@/i, (_m, scheme: string) => `${scheme}REDACTED:REDACTED@`);
  const q = out.indexOf('?');
  if (q >= 0 || !out.includes('://')) {
    const start = q >= 0 ? q + 1 : 0;
    const hash = out.indexOf('#', start);
    const query = out.slice(start, hash >= 0 ? hash : undefined);
    if (query.includes('=')) {
      const red = query
        .split('&')
        .map((kv) => {
          const eq = kv.indexOf('=');
          if (eq < 0) return kv;
          let k = kv.slice(0, eq);
          try {
            k = decodeURIComponent(k);
          } catch {
            /* keep raw */
          }
          return SENSITIVE_QUERY.test(k) ? `${kv.slice(0, eq)}=REDACTED` : kv;
        })
        .join('&');
      out = out.slice(0, start) + red + (hash >= 0 ? out.slice(hash) : '');
    }
  }
  return out;
}

export class RedactingProcessor implements SpanProcessor {
  onStart(_s: Span, _c: Context): void {}
  onEnding(span: Span): void {
    const attrs = span.attributes;
    for (const k of URL_KEYS) {
      const v = attrs[k];
      if (typeof v === 'string' && (v.includes('@') || v.includes('='))) {
        const r = redactUrlLike(v);
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
