/**
 * Where an outgoing http/https call goes, as its CLIENT span says it: `server.address`,
 * `server.port` and `url.full` (redacted). Two ways to get there, which must agree:
 *
 * - fromRequest(): from the ClientRequest Node built (what the span records once the call
 *   exists, instrumentation.ts startClient());
 * - fromArgs(): from the arguments of request()/get(), before Node built anything. Only when a
 *   sampling rule may read a CLIENT span's attributes (docs/sampling-rules.md), because the
 *   sampler decides before the request exists (its traceparent goes into the request's
 *   headers). It reads the arguments the way Node's ClientRequest does: a URL string or
 *   object, then options over it; `hostname` before `host`; the Host header Node would write.
 *
 * test/http/client-target.unit.test.ts compares the two on real ClientRequests.
 */
import type * as httpT from 'node:http';
import type { Attributes } from '@opentelemetry/api';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT, ATTR_URL_FULL } from '@opentelemetry/semantic-conventions';
import { redactUrlLike } from '../../redact';
import { normalMethod, parseHost } from './header-parts';

export interface ClientTarget {
  address: string;
  port: number;
  /** `http:` / `https:` */
  protocol: string;
  /** host[:port] as the Host header says it (or the host alone). */
  authority: string;
  /** The caller gave credentials (recorded as REDACTED:REDACTED). */
  auth: boolean;
}

/** url.full as exported: credentials and the listed query values redacted. */
export const fullUrl = (t: ClientTarget, path: string): string => redactUrlLike(`${t.protocol}//${t.auth ? 'REDACTED:REDACTED@' : ''}${t.authority}${path}`);

/** What the caller passed to request()/get(): whether it carried credentials, and the port it names. */
export function callTarget(a: unknown, b: unknown): { auth: boolean; port?: number } {
  let auth = false;
  let port: number | undefined;
  if (typeof a === 'string') {
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(a);
    if (m) {
      const authority = m[1]!;
      const at = authority.lastIndexOf('@');
      auth = at >= 0;
      port = parseHost(authority.slice(at + 1)).port;
    }
  } else if (a instanceof URL) {
    auth = a.username !== '' || a.password !== '';
    port = a.port ? Number(a.port) : undefined;
  }
  // Options (the only argument, or after a URL) override what the URL said, as in Node.
  const o = (a !== null && typeof a === 'object' && !(a instanceof URL) ? a : b !== null && typeof b === 'object' ? b : undefined) as
    { auth?: unknown; port?: unknown } | undefined;
  if (o) {
    if (typeof o.auth === 'string' && o.auth) auth = true;
    if (o.port !== undefined && o.port !== null && o.port !== '') {
      const p = Number(o.port);
      if (Number.isInteger(p)) port = p;
    }
  }
  return { auth, port };
}

function target(protocol: string, authority: string, auth: boolean, address: string, explicitPort: number | undefined): ClientTarget {
  const port = explicitPort ?? parseHost(authority).port ?? (protocol === 'https:' ? 443 : 80);
  return { address, port, protocol, authority, auth };
}

/** From the request Node built; `a`, `b`: the caller's first two arguments. */
export function fromRequest(req: httpT.ClientRequest, scheme: string, a: unknown, b: unknown): ClientTarget {
  const protocol = req.protocol || `${scheme}:`;
  const hostHeader = req.getHeader('host');
  const authority = typeof hostHeader === 'string' && hostHeader ? hostHeader : req.host;
  const t = callTarget(a, b);
  return target(protocol, authority, t.auth, req.host, t.port);
}

interface Options {
  protocol?: unknown;
  hostname?: unknown;
  host?: unknown;
  port?: unknown;
  defaultPort?: unknown;
  path?: unknown;
  method?: unknown;
  headers?: unknown;
  setHost?: unknown;
  agent?: unknown;
}

/** The caller's value of a header, from an options object's headers (any case); undefined for the array form. */
function headerOf(headers: unknown, name: string): unknown {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return undefined;
  for (const k of Object.keys(headers)) if (k.length === name.length && k.toLowerCase() === name) return (headers as Record<string, unknown>)[k];
  return undefined;
}

/** From the arguments of request()/get() (see the top of this file); undefined when Node would throw on them. */
export function fromArgs(args: ArrayLike<unknown>, scheme: string): Attributes | undefined {
  const a = args[0];
  let o: Options = {};
  let rest = 0;
  if (typeof a === 'string' || a instanceof URL) {
    let u: URL;
    try {
      u = typeof a === 'string' ? new URL(a) : a;
    } catch {
      return undefined;
    }
    const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    o = { protocol: u.protocol, hostname, path: `${u.pathname}${u.search}` };
    if (u.port !== '') o.port = Number(u.port);
    rest = 1;
  }
  const more = args[rest];
  if (more !== null && typeof more === 'object') o = { ...o, ...(more as Options) };
  const agent = o.agent as { defaultPort?: unknown } | null | undefined | false;
  // As Node: the protocol from the options or the module (not the agent), the default port from the options or the agent.
  const protocol = typeof o.protocol === 'string' && o.protocol ? o.protocol : `${scheme}:`;
  const defaultPort = Number(o.defaultPort) || (agent && Number(agent.defaultPort)) || (scheme === 'https' ? 443 : 80);
  const port = Number(o.port) || defaultPort;
  const host = (typeof o.hostname === 'string' && o.hostname) || (typeof o.host === 'string' && o.host) || 'localhost';
  const path = typeof o.path === 'string' && o.path ? o.path : '/';
  // The Host header Node writes (none for the array form of headers, or with setHost: false).
  let authority = host;
  const given = headerOf(o.headers, 'host');
  if (typeof given === 'string' && given) authority = given;
  else if (!given && !Array.isArray(o.headers) && (o.setHost === undefined || Boolean(o.setHost))) {
    const colon = host.indexOf(':');
    if (colon !== -1 && host.includes(':', colon + 1) && host[0] !== '[') authority = `[${host}]`;
    if (port !== defaultPort) authority += `:${port}`;
  }
  const t = callTarget(args[0], args[1]);
  const r = target(protocol, authority, t.auth, host, t.port);
  const method = typeof o.method === 'string' && o.method ? o.method.toUpperCase() : 'GET';
  return { [ATTR_HTTP_REQUEST_METHOD]: normalMethod(method), [ATTR_SERVER_ADDRESS]: r.address, [ATTR_SERVER_PORT]: r.port, [ATTR_URL_FULL]: fullUrl(r, path) };
}
