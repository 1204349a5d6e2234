/**
 * Pure helpers of the HTTP SERVER and CLIENT spans, shared by the http and
 * http2 instrumentations (each bundles its own copy): the method as recorded,
 * the few request headers a SERVER span reads, Host / Forwarded parsing, and
 * the OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* capture.
 */
import type { Span } from '@opentelemetry/api';
import { KNOWN_METHODS } from '../http-naming';

export const normalMethod = (m: string | undefined): string => {
  if (m !== undefined && KNOWN_METHODS.has(m)) return m;
  const u = (m ?? 'GET').toUpperCase();
  return KNOWN_METHODS.has(u) ? u : '_OTHER';
};

/** The request headers describeServer() reads, from `rawHeaders` (first occurrence each). */
export interface ServerHeaders {
  host?: string;
  'user-agent'?: string;
  forwarded?: string;
  'x-forwarded-host'?: string;
  'x-forwarded-proto'?: string;
  'x-forwarded-for'?: string;
}
const SERVER_HEADERS = new Set<string>(['host', 'user-agent', 'forwarded', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-for']);

/**
 * Reading `req.headers` makes Node build an object of every header; the few
 * read here come straight from `rawHeaders` instead (apps that read headers
 * themselves pay for the object anyway, apps that do not are spared it).
 */
export function readHeaders(raw: string[]): ServerHeaders {
  const out: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    let k = raw[i]!;
    if (k.length < 4 || k.length > 17) continue;
    k = k.toLowerCase();
    if (SERVER_HEADERS.has(k) && out[k] === undefined) out[k] = raw[i + 1]!;
  }
  return out;
}

let lastHost: string | undefined;
let lastSplit: { address: string; port?: number } = { address: '' };

/** A server's Host header, parsed; a server sees the same Host again and again (clients call parseHost). */
export function splitHost(host: string): { address: string; port?: number } {
  if (host === lastHost) return lastSplit;
  lastSplit = parseHost(host);
  lastHost = host;
  return lastSplit;
}

/** `host:port`, `[v6]:port` or `host` -> parts; the port as a number. */
export function parseHost(host: string): { address: string; port?: number } {
  let address = host;
  let port: number | undefined;
  const colon = host.lastIndexOf(':');
  if (colon > 0 && (host[0] !== '[' || host[colon - 1] === ']')) {
    const p = Number(host.slice(colon + 1));
    if (Number.isInteger(p) && p > 0 && p < 65536) {
      port = p;
      address = host.slice(0, colon);
    }
  }
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  return { address, port };
}

/** `for=` / `host=` / `proto=` of the first element of a Forwarded header (RFC 7239). */
export function forwarded(header: string, key: 'for' | 'host' | 'proto'): string | undefined {
  const first = header.split(',')[0] ?? '';
  for (const pair of first.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === key)
      return pair
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

/** An address as a client.address: no port, no IPv6 brackets. */
export function bareAddress(v: string): string {
  const s = v.trim();
  if (s.startsWith('[')) return s.slice(1, s.indexOf(']') > 0 ? s.indexOf(']') : undefined);
  const colon = s.indexOf(':');
  return colon > 0 && s.indexOf(':', colon + 1) < 0 ? s.slice(0, colon) : s;
}

export function captureHeaders(span: Span, kind: 'request' | 'response', names: readonly string[], get: (name: string) => unknown): void {
  for (const name of names) {
    const v = get(name);
    if (v === undefined || v === null) continue;
    span.setAttribute(`http.${kind}.header.${name}`, Array.isArray(v) ? v.map(String) : [String(v)]);
  }
}
