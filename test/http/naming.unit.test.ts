/**
 * The pure functions behind HTTP span names, error.type and URL redaction,
 * on the inputs that the end-to-end tests cannot easily produce.
 */
import { describe, expect, it } from 'vitest';
import { clientSpanName, errorType, routeTemplate, serverSpanName } from '../../src/instrumentations/http-naming';
import { redactQuery, redactUrlLike } from '../../src/redact';

describe('routeTemplate', () => {
  it.each([
    ['/', '/'],
    ['', '/'],
    ['/orders/42?x=1#top', '/orders/:id'],
    ['/orders/42/items/7', '/orders/:id/items/:id'],
    ['/users/6f1c2b9e-8a4d-4c1e-9f0a-1b2c3d4e5f60/cart', '/users/:id/cart'],
    ['/blobs/3f2a9c1d8e7b', '/blobs/:id'],
    ['/reset/eyJhbGciOiJIUzI1NiJ9abcdef', '/reset/:id'],
    ['/invoices/INV-2024-001', '/invoices/:id'],
    ['/users/alice@example.com', '/users/:id'],
    ['/key/users%2F42%2Favatar.png', '/key/:id'],
    ['/api/v2/health', '/api/v2/health'],
    ['/static/app.js', '/static/app.js'],
    ['/key/hello', '/key/hello'],
  ])('%s -> %s', (input, out) => {
    expect(routeTemplate(input)).toBe(out);
  });

  it('cuts deep paths at a segment boundary', () => {
    const t = routeTemplate('/a/' + 'segment/'.repeat(30) + 'end');
    expect(t.length).toBeLessThanOrEqual(100);
    expect(t).toMatch(/^\/a\/segment\/.*\/\.\.\.$/);
  });
});

describe('span names', () => {
  it('server: method and path template; unknown methods become HTTP; absolute-form targets keep only the path', () => {
    expect(serverSpanName('GET', '/orders/42?token=x')).toBe('GET /orders/:id');
    expect(serverSpanName('post', '/orders')).toBe('POST /orders');
    expect(serverSpanName('FOO123', '/orders')).toBe('HTTP /orders');
    expect(serverSpanName('GET', 'http://u:p@example.com/orders/42?sig=x')).toBe('GET /orders/:id');
    expect(serverSpanName('OPTIONS', '*')).toBe('OPTIONS');
    expect(serverSpanName(undefined, undefined)).toBe('GET /');
  });

  it('client: method, origin and path template, never the query', () => {
    expect(clientSpanName('GET', 'http://payments:8080', '/charge/9912?sig=abc')).toBe('GET http://payments:8080/charge/:id');
    expect(clientSpanName('PUT', 'https://s3.example.com', '/bucket/users%2F42.png')).toBe('PUT https://s3.example.com/bucket/:id');
    expect(clientSpanName(undefined, 'http://x', '')).toBe('GET http://x/');
    // A request through a proxy carries the absolute URL as its path.
    expect(clientSpanName('GET', 'http://proxy:3128', 'http://api.example.com/v1/items/55')).toBe('GET http://proxy:3128/v1/items/:id');
  });
});

describe('errorType', () => {
  it('prefers a specific class, then a string code, then Error', () => {
    expect(errorType(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(errorType(new DOMException('timed out', 'TimeoutError'))).toBe('TimeoutError');
    expect(errorType(Object.assign(new Error('x'), { name: 'AbortError', code: 'ABORT_ERR' }))).toBe('AbortError');
    expect(errorType(new TypeError('bad'))).toBe('TypeError');
    expect(errorType(new Error('plain'))).toBe('Error');
    expect(errorType(undefined)).toBe('Error');
  });
});

describe('redaction', () => {
  it.each([
    ['http://user:pass@host/p', 'http://REDACTED:REDACTED@host/p'],
    ['http://user:p@ss@host/p?a=1', 'http://REDACTED:REDACTED@host/p?a=1'],
    ['postgres://app:s3cret@db:5432/shop', 'postgres://REDACTED:REDACTED@db:5432/shop'],
    ['https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&X-Amz-Expires=60', 'https://b.s3.amazonaws.com/k?X-Amz-Signature=REDACTED&X-Amz-Expires=60'],
    ['https://x/y?sig=abc&se=2030#frag', 'https://x/y?sig=REDACTED&se=2030#frag'],
    [
      'https://x/y?refresh_token=a&page_size=10&client_secret=b&x-api-key=c',
      'https://x/y?refresh_token=REDACTED&page_size=10&client_secret=REDACTED&x-api-key=REDACTED',
    ],
    ['/path?password=a&user=bob', '/path?password=REDACTED&user=bob'],
    ['http://host/no-query', 'http://host/no-query'],
  ])('%s', (input, out) => {
    expect(redactUrlLike(input)).toBe(out);
  });

  it('redacts a bare query even when a value is itself a URL', () => {
    expect(redactUrlLike('next=https://a.example/x&token=abc')).toBe('next=https://a.example/x&token=REDACTED');
    expect(redactQuery('next=https://a.example/x&token=abc&Signature=s')).toBe('next=https://a.example/x&token=REDACTED&Signature=REDACTED');
    expect(redactQuery('%74oken=abc')).toBe('%74oken=REDACTED');
  });
});
