/**
 * No secret that travels in a URL (user:pass@, signed-URL signatures and
 * credentials, tokens, API keys) or in auth headers reaches the exported
 * spans: server and client side, node:http and fetch, success and failure.
 * Every secret value contains SEKRET, and the whole export is searched for it.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFixture, VARIANTS } from '../harness/fixture';
import { one, startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { closedPort, leaks, send, spansOf, startDownstream, type Downstream } from './helpers';
import { withServer } from './run-server';

let rx: OtlpReceiver;
let ds: Downstream;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  ds = await startDownstream();
});
afterAll(async () => {
  await ds.close();
  await rx.close();
});

/** A proxy-style request whose target is an absolute URL with credentials (Node's http client never sends these). */
function rawGet(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    let out = '';
    s.setEncoding('utf8').on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

describe.each(VARIANTS)('secrets in URLs and headers (%s)', (ext) => {
  it('never reach SERVER spans', async () => {
    const service = `red-srv-${ext}`;
    const run = await withServer(rx, { ext, service }, async (base, port) => {
      await send(`${base}/orders/7?X-Amz-Signature=SEKRET-amzsig&X-Amz-Credential=SEKRET-amzcred&X-Amz-Security-Token=SEKRET-amztok&page=3`);
      await send(`${base}/orders/8?sig=SEKRET-sig&token=SEKRET-token&access_token=SEKRET-access&api_key=SEKRET-apikey&client_secret=SEKRET-cs`, {
        headers: { authorization: 'Bearer SEKRET-bearer', cookie: 'session=SEKRET-cookie' },
      });
      // A long token as a path segment is data: the span name templates it away (url.path keeps
      // the path, as semconv defines it; path-embedded secrets are not recognisable in general).
      await send(`${base}/orders/PATHTOKENabcdefghijklmnopqrstuvwxyz0123`);
      expect(await rawGet(port, `http://alice:SEKRET-pass@127.0.0.1:${port}/orders/9?password=SEKRET-pw&page=4`)).toMatch(/^HTTP\/1.1 200/);
    });
    const servers = run.spans.filter((s) => s.kind === 'SERVER' && s.name === 'GET /orders/:id');
    expect(servers).toHaveLength(4);
    expect(leaks(run.spans, 'SEKRET')).toEqual([]);
    expect(leaks(run.spans, 'PATHTOKEN')).toEqual(['GET /orders/:id: attributes.url.path = /orders/PATHTOKENabcdefghijklmnopqrstuvwxyz0123']);
    // The values are gone, the rest of the URL is kept.
    const queries = servers.map((s) => s.attributes['url.query']).filter(Boolean);
    expect(queries).toEqual([
      'X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&page=3',
      'sig=REDACTED&token=REDACTED&access_token=REDACTED&api_key=REDACTED&client_secret=REDACTED',
      'password=REDACTED&page=4',
    ]);
    expect(servers.map((s) => s.attributes['url.path'])).toContain('/orders/9');
  });

  // Names the first list missed: keys, sessions, one-time codes, `;`-separated parameters, and
  // the spellings one name takes (snake, kebab, camel, upper case, percent-encoded).
  const MORE = [
    'secret_key=SEKRET-sk',
    'private_key=SEKRET-pk',
    'access_key=SEKRET-ak',
    'session=SEKRET-sess',
    'sid=SEKRET-sid',
    'pin=SEKRET-pin',
    'otp=SEKRET-otp',
    'code=SEKRET-code',
    'apiKey=SEKRET-camel',
    'API-KEY=SEKRET-kebab',
    'AWSAccessKeyId=SEKRET-awsid',
    'X-Goog-Signature=SEKRET-goog',
    'refreshToken=SEKRET-rt',
    'JSESSIONID=SEKRET-js',
    'user%5Bpassword%5D=SEKRET-nested',
    'verification_code=SEKRET-vc',
    'order_ref=SEKRET-extra',
    'promoTicketNo=SEKRET-glob',
  ];
  const MORE_REDACTED = MORE.map((kv) => kv.replace(/=.*/, '=REDACTED'));
  // order_ref and *ticketno come from OTEL_AGENT_REDACT_QUERY_PARAMS; the rest are defaults.
  const extraNames = { OTEL_AGENT_REDACT_QUERY_PARAMS: 'Order-Ref, *ticket_no' };

  it('SERVER spans: the default names, `;` separators and user-added names are redacted, other parameters kept', async () => {
    const service = `red-srv-more-${ext}`;
    const run = await withServer(rx, { ext, service, env: extraNames }, async (base) => {
      await send(`${base}/orders/10?${MORE.join('&')}&page=5&author=ann&sort_by=date`);
      await send(`${base}/orders/11?page=6;token=SEKRET-semi;pin=SEKRET-semipin;lang=en`);
    });
    expect(leaks(run.spans, 'SEKRET')).toEqual([]);
    const servers = run.spans.filter((s) => s.kind === 'SERVER' && s.name === 'GET /orders/:id');
    expect(servers.map((s) => s.attributes['url.query'])).toEqual([
      `${MORE_REDACTED.join('&')}&page=5&author=ann&sort_by=date`,
      'page=6;token=REDACTED;pin=REDACTED;lang=en',
    ]);
  });

  it('CLIENT spans of http.request and fetch: the same names in url.full and url.query', async () => {
    const service = `red-cli-more-${ext}`;
    ds.seen.length = 0;
    const q = `${MORE.join('&')}&keep=visible`;
    const calls = [
      { via: 'http', url: `${ds.url}/files/e?${q}` },
      { via: 'fetch', url: `${ds.url}/files/f?${q}` },
      { via: 'fetch', url: `${ds.url}/files/g?keep=1;session=SEKRET-fsemi;otp=SEKRET-fotp` },
    ];
    const r = await runFixture({
      fixture: `http/client.${ext}`,
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service, CALLS: JSON.stringify(calls), ...extraNames },
    });
    expect(r.code, r.stderr).toBe(0);
    const spans = spansOf(rx, service);
    expect(leaks(spans, 'SEKRET')).toEqual([]);
    const expected = `${MORE_REDACTED.join('&')}&keep=visible`;
    expect(String(one(spans, `GET ${ds.url}/files/e`).attributes['url.full'])).toBe(`${ds.url}/files/e?${expected}`);
    const fetched = one(spans, `GET ${ds.url}/files/f`);
    expect(fetched.attributes['url.full']).toBe(`${ds.url}/files/f?${expected}`);
    expect(fetched.attributes['url.query']).toBe(expected);
    const semi = one(spans, `GET ${ds.url}/files/g`);
    expect(semi.attributes['url.full']).toBe(`${ds.url}/files/g?keep=1;session=REDACTED;otp=REDACTED`);
    expect(semi.attributes['url.query']).toBe('keep=1;session=REDACTED;otp=REDACTED');
    // The requests themselves went out unchanged.
    expect(ds.to('/files/f')[0]!.url).toContain('secret_key=SEKRET-sk');
  });

  it('never reach CLIENT spans of http.request or fetch, whether the call succeeds or fails', async () => {
    const service = `red-cli-${ext}`;
    ds.seen.length = 0;
    const dead = await closedPort();
    const calls = [
      { via: 'http', url: `http://bob:SEKRET-clipass@127.0.0.1:${ds.port}/files/a?X-Amz-Signature=SEKRET-camz&X-Amz-Credential=SEKRET-ccred&keep=visible` },
      { via: 'fetch', url: `${ds.url}/files/b?sig=SEKRET-csig&se=2030-01-01&token=SEKRET-ctok&keep=visible` },
      { via: 'http', url: `http://carol:SEKRET-refpass@127.0.0.1:${dead}/files/c?sig=SEKRET-refsig` },
      { via: 'fetch', url: `http://127.0.0.1:${dead}/files/d?api-key=SEKRET-frefkey` },
    ];
    const r = await runFixture({ fixture: `http/client.${ext}`, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, CALLS: JSON.stringify(calls) } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('RESULT 2 ECONNREFUSED');
    const spans = spansOf(rx, service);
    expect(spans.filter((s) => s.kind === 'CLIENT')).toHaveLength(4);
    expect(leaks(spans, 'SEKRET')).toEqual([]);

    const full = spans.map((s) => String(s.attributes['url.full'])).sort();
    expect(full).toEqual(
      [
        `http://REDACTED:REDACTED@127.0.0.1:${ds.port}/files/a?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&keep=visible`,
        `${ds.url}/files/b?sig=REDACTED&se=2030-01-01&token=REDACTED&keep=visible`,
        `http://REDACTED:REDACTED@127.0.0.1:${dead}/files/c?sig=REDACTED`,
        `http://127.0.0.1:${dead}/files/d?api-key=REDACTED`,
      ].sort(),
    );
    expect(one(spans, `GET ${ds.url}/files/b`).attributes['url.query']).toBe('sig=REDACTED&se=2030-01-01&token=REDACTED&keep=visible');

    // Redaction is in the telemetry only: the app's requests went out exactly as written.
    const a = ds.to('/files/a')[0]!;
    expect(a.url).toContain('X-Amz-Signature=SEKRET-camz');
    expect(Buffer.from(String(a.headers.authorization).replace(/^Basic /, ''), 'base64').toString()).toBe('bob:SEKRET-clipass');
    expect(ds.to('/files/b')[0]!.url).toContain('token=SEKRET-ctok');
  });
});
