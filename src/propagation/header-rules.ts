/**
 * What may be written into an HTTP header (RFC 9110), checked before the
 * agent writes anything: a name must be a token, a value a field-value. Node
 * (setHeader) and undici (addHeader) throw on anything else, inside the app's
 * own call, so every propagated name and value passes through these first.
 * Plain loops over a lookup table: this runs for every header of every
 * outgoing request.
 */

/** tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** A header name: one or more tchars. */
export function isToken(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * A header value: visible ASCII and obs-text (0x80-0xFF, how Node carries raw
 * bytes in a header string), with SP and HTAB only between them. No CR, LF,
 * NUL or other control character, nothing above 0xFF (it has no single byte).
 * The empty string is a valid (empty) value.
 */
export function isFieldValue(s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09) {
      if (i === 0 || i === n - 1) return false;
    } else if (c < 0x21 || c === 0x7f || c > 0xff) return false;
  }
  return true;
}
