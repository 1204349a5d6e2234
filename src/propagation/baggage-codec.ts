/**
 * Baggage values between the wire and the API, shared by the W3C baggage and
 * Jaeger propagators.
 *
 * Forwarding must not change what the caller sent: a value that arrived as
 * raw UTF-8 bytes leaves as the same bytes, one that arrived percent-encoded
 * leaves with the same escapes (upstream decoded and re-encoded, so raw UTF-8
 * went out double-encoded and `a+b` came back as `a%2Bb`). So extraction
 * remembers, in the context, each entry's text as it was on the wire; an
 * injection whose entry still has the same value sends that text again, and
 * only entries the app set or changed are encoded afresh.
 *
 * Node gives header values as latin1 strings (one char per byte): the API's
 * value is those bytes, percent-decoded, read as UTF-8 (invalid sequences
 * become U+FFFD, as the W3C baggage spec asks), so `café` reads as `café`
 * whether it came raw or as `caf%C3%A9`.
 */
import { createContextKey, type Context } from '@opentelemetry/api';

/** One entry as received. */
export interface WireEntry {
  /** The decoded value the API holds; the wire text is reused only while the entry still has it. */
  value: string;
  /** W3C properties (after `;`) as received, '' for none. */
  props: string;
  /** The key as it was written on the wire (a header token). */
  key: string;
  /** The value as it was written on the wire. */
  raw: string;
}

export type WireEntries = ReadonlyMap<string, WireEntry>;

const WIRE = createContextKey('@x/otel-agent baggage as received');

export function wireEntries(ctx: Context): WireEntries | undefined {
  return ctx.getValue(WIRE) as WireEntries | undefined;
}

export function withWireEntries(ctx: Context, entries: WireEntries): Context {
  return ctx.setValue(WIRE, entries);
}

const fatal = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');

const hex = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1);

/** Percent-decodes `raw` (a latin1 header string or ordinary text) into the value the API holds. */
export function decodeValue(raw: string): string {
  let plain = true;
  let wide = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c > 0xff) wide = true;
    if (c === 0x25 || c > 0x7f) plain = false;
  }
  if (plain) return raw;
  // Header strings carry bytes; a carrier that holds real text (a message header set by code) is taken as text.
  let bytes = Buffer.from(raw, wide ? 'utf8' : 'latin1');
  if (!wide && !isUtf8(bytes)) bytes = Buffer.from(raw, 'utf8');
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x25 && i + 2 < bytes.length && hex(bytes[i + 1]!) >= 0 && hex(bytes[i + 2]!) >= 0) {
      out[n++] = hex(bytes[i + 1]!) * 16 + hex(bytes[i + 2]!);
      i += 2;
    } else out[n++] = b;
  }
  return lenient.decode(out.subarray(0, n));
}

function isUtf8(b: Buffer): boolean {
  try {
    fatal.decode(b);
    return true;
  } catch {
    return false;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => '%' + i.toString(16).toUpperCase().padStart(2, '0'));

/** Which bytes stay as they are; everything else becomes %XX of its UTF-8 bytes. */
function table(keep: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) t[c] = keep(c) ? 1 : 0;
  return t;
}

/**
 * W3C baggage-octet (printable ASCII except SP, `"`, `,`, `;`, `\`), less `%`
 * (it must stay an escape) and `=` (some parsers split a member on every `=`).
 */
const W3C_VALUE = table((c) => c > 0x20 && c < 0x7f && !'",;\\%='.includes(String.fromCharCode(c)));
/** A W3C baggage key is a token; `%` is escaped so the key reads back the same. */
const W3C_KEY = table((c) => /[!#$&'*+\-.^_`|~0-9A-Za-z]/.test(String.fromCharCode(c)));
/** What encodeURIComponent keeps, which is what Jaeger clients decode (they read `+` as a space). */
const URI_COMPONENT = table((c) => /[A-Za-z0-9\-_.!~*'()]/.test(String.fromCharCode(c)));

function encode(s: string, keep: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || keep[c] === 0) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s;
  // Buffer.from never throws: a lone surrogate becomes U+FFFD (encodeURIComponent throws on it).
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b < 128 && keep[b] === 1 ? String.fromCharCode(b) : HEX[b]!;
  return out;
}

export const encodeW3cValue = (s: string): string => encode(s, W3C_VALUE);
export const encodeW3cKey = (s: string): string => encode(s, W3C_KEY);
export const encodeJaegerValue = (s: string): string => encode(s, URI_COMPONENT);

/** Trims optional whitespace (SP, HTAB) only; String#trim would also eat U+00A0, the last byte of a raw `à`. */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
