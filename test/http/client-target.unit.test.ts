/**
 * The attributes an http/https CLIENT span starts with for sampling rules, read from the
 * arguments of request() before Node built the request (client-target.ts fromArgs), must be
 * the ones the span records from the request Node built (fromRequest): a rule on `url.full`
 * matches what the backend shows. Compared on real ClientRequests (an agent that never
 * connects, so nothing goes on the network).
 */
import http from 'node:http';
import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { fromArgs, fromRequest, fullUrl } from '../../src/instrumentations/http/client-target';
import { normalMethod } from '../../src/instrumentations/http/header-parts';

class NoConnect extends http.Agent {
  addRequest(): void {}
}
class NoConnectTls extends https.Agent {
  addRequest(): void {}
}

type Call = [string | URL | Record<string, unknown>, Record<string, unknown>?];

/** What the span records for this call, once Node built the request. */
function recorded(mod: typeof http | typeof https, scheme: 'http' | 'https', args: Call) {
  const req = (mod.request as (...a: unknown[]) => http.ClientRequest)(...args);
  req.on('error', () => {});
  const t = fromRequest(req, scheme, args[0], args[1]);
  return { 'http.request.method': normalMethod(req.method), 'server.address': t.address, 'server.port': t.port, 'url.full': fullUrl(t, req.path) };
}

describe('CLIENT start attributes of http/https calls', () => {
  const agent = new NoConnect();
  const cases: Call[] = [
    ['http://example.com/a?b=1', { agent }],
    ['http://user:pw@example.com:8080/a', { agent }],
    [new URL('http://[::1]:3000/p?q'), { agent }],
    ['http://example.com:80/p', { agent }],
    ['http://a.example/p', { agent, path: '/q?token=t', port: 9 }],
    [{ agent, host: 'example.com', port: 8080, path: '/x', method: 'post' }],
    [{ agent, hostname: 'h.example', host: 'ignored.example', path: '/x?token=1' }],
    [{ agent, host: '::1', port: 80 }],
    [{ agent, host: '::1', port: 8080 }],
    [{ agent, host: 'example.com', headers: { Host: 'virtual.example:81' } }],
    [{ agent, host: 'example.com', setHost: false, port: 81 }],
    [{ agent, host: 'example.com', headers: ['X-A', '1'], port: 81 }],
    [{ agent, host: 'example.com', headers: { expect: '100-continue' }, port: '8081' }],
    [{ agent, host: 'e.example', defaultPort: 8080 }],
    [{ agent, host: 'e.example', auth: 'u:p' }],
    [{ agent, method: 'PURGE' }],
    [{ agent }],
  ];
  it.each(cases.map((c) => [JSON.stringify(c, (k, v: unknown) => (k === 'agent' ? undefined : v instanceof URL ? v.href : v)), c] as const))(
    'http.request(%s)',
    (_, call) => {
      expect(fromArgs(call, 'http')).toEqual(recorded(http, 'http', call));
    },
  );

  it('https: the default port and scheme of the module', () => {
    const tls = new NoConnectTls();
    for (const call of [
      ['https://example.com/s', { agent: tls }],
      [{ agent: tls, host: 'example.com', port: 8443, path: '/t' }],
      [{ agent: tls, host: 'example.com', port: 443 }],
    ] as Call[]) {
      expect(fromArgs(call, 'https')).toEqual(recorded(https, 'https', call));
    }
  });

  it('what Node would throw on gives no attributes (the call throws as before)', () => {
    expect(fromArgs(['not a url'], 'http')).toBeUndefined();
  });
});
