/**
 * A low-cardinality name for a request path when no router tells us the route:
 * ids (numbers, UUIDs, long hex or base64-ish tokens) become `:id`, the query
 * string is dropped. `/orders/42?x=1` -> `/orders/:id`.
 */
const ID =
  /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|[A-Za-z0-9_-]{20,}|[^/]*\d[^/]*\d[^/]*\d[^/]*)$/i;

export function routeTemplate(url: string): string {
  const q = url.search(/[?#]/);
  const path = q >= 0 ? url.slice(0, q) : url;
  if (path.length > 512) return path.slice(0, 64) + '...';
  const parts = path.split('/');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p && ID.test(p)) parts[i] = ':id';
  }
  return parts.join('/') || '/';
}
