/**
 * Header values from undici's own request and response objects, read only
 * for a recording span (the user agent, the capture lists): a request's
 * headers are one `name: value\r\n` string (undici 6 and 7) or a flat
 * [name, value, ...] array; a response's are a flat array of Buffers.
 */

/** Every value of the request header `name` (lower-case), or undefined when absent. */
export function requestHeaderValues(headers: unknown, name: string): string[] | undefined {
  let out: string[] | undefined;
  if (typeof headers === 'string') {
    let i = 0;
    while (i < headers.length) {
      let end = headers.indexOf('\r\n', i);
      if (end < 0) end = headers.length;
      const colon = headers.indexOf(':', i);
      if (colon > i && colon < end && colon - i === name.length && headers.slice(i, colon).toLowerCase() === name) {
        (out ??= []).push(headers.slice(colon + 1, end).trim());
      }
      i = end + 2;
    }
  } else if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const k = headers[i];
      if (typeof k === 'string' && k.length === name.length && k.toLowerCase() === name) {
        const v = headers[i + 1] as unknown;
        if (Array.isArray(v)) (out ??= []).push(...v.map(String));
        else (out ??= []).push(String(v));
      }
    }
  }
  return out;
}

/** The values of the listed response headers (lower-case names), from undici's raw [name, value, ...] array. */
export function responseHeaderValues(raw: readonly unknown[], names: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = String(raw[i]).toLowerCase();
    if (names.includes(k)) (out[k] ??= []).push(String(raw[i + 1]));
  }
  return out;
}
