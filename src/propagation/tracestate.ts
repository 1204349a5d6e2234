/**
 * W3C `tracestate` (Trace Context Level 2, the current key grammar), in
 * place of @opentelemetry/core's TraceState.
 *
 * Why our own: core checks keys with the old `tenant@vendor` grammar, so
 * valid keys such as `foo@`, `foo@@bar` or `t*242@v` (the current grammar
 * allows `@` anywhere after the first character) were dropped; and it keeps
 * the valid members of a header that has invalid ones. The W3C test suite
 * expects such a header discarded as a whole (the spec allows either), so
 * here a header is all or nothing: one malformed member, an over-long key or
 * value, an empty value or a 33rd member, and there is no tracestate.
 *
 *   key      = ( lcalpha / DIGIT ) 0*255 ( lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@" )
 *   value    = 0*255( %x20 / nblk-chr ) nblk-chr
 *   nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
 *
 * Empty and whitespace-only members are allowed (they are what joining an
 * empty header with others gives) and skipped. A repeated key keeps its
 * first (left-most) value. Over 512 characters, whole entries are dropped
 * as the spec says: those over 128 characters first, then from the right.
 */
import type { TraceState } from '@opentelemetry/api';

const MAX_MEMBERS = 32;
const MAX_LENGTH = 512;
const LONG_ENTRY = 128;

/** 1: may start a key; 2: may follow in a key; 4: may be in a value; 8: may end a value. */
const CHAR = new Uint8Array(128);
for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) CHAR[c] = c === 0x20 ? 4 : 4 | 8;
for (let c = 0x61; c <= 0x7a; c++) CHAR[c]! |= 1 | 2;
for (let c = 0x30; c <= 0x39; c++) CHAR[c]! |= 1 | 2;
for (const c of '_-*/@') CHAR[c.charCodeAt(0)]! |= 2;

export function isValidKey(k: string): boolean {
  const n = k.length;
  if (n === 0 || n > 256) return false;
  const c0 = k.charCodeAt(0);
  if (c0 >= 128 || (CHAR[c0]! & 1) === 0) return false;
  for (let i = 1; i < n; i++) {
    const c = k.charCodeAt(i);
    if (c >= 128 || (CHAR[c]! & 2) === 0) return false;
  }
  return true;
}

export function isValidValue(v: string): boolean {
  const n = v.length;
  if (n === 0 || n > 256) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c >= 128 || (CHAR[c]! & 4) === 0) return false;
  }
  return (CHAR[v.charCodeAt(n - 1)]! & 8) !== 0;
}

const isOws = (c: number): boolean => c === 0x20 || c === 0x09;

type Entry = readonly [key: string, value: string];

/** Entries left to right; immutable, every change returns a new one. */
export class W3CTraceState implements TraceState {
  private text: string | undefined;

  private constructor(private readonly list: readonly Entry[]) {}

  /**
   * The combined header (repeated fields joined with commas, RFC 9110),
   * or undefined when it is invalid or has no member.
   */
  static parse(header: string | readonly string[] | undefined): W3CTraceState | undefined {
    if (header === undefined) return undefined;
    const s = typeof header === 'string' ? header : header.join(',');
    if (typeof s !== 'string' || s.length === 0) return undefined;
    const list: Entry[] = [];
    let members = 0;
    let at = 0;
    while (at <= s.length) {
      let end = s.indexOf(',', at);
      if (end === -1) end = s.length;
      let a = at;
      let b = end;
      while (a < b && isOws(s.charCodeAt(a))) a++;
      while (b > a && isOws(s.charCodeAt(b - 1))) b--;
      at = end + 1;
      if (a === b) continue;
      if (++members > MAX_MEMBERS) return undefined;
      const eq = s.indexOf('=', a);
      if (eq === -1 || eq >= b) return undefined;
      const key = s.slice(a, eq);
      const value = s.slice(eq + 1, b);
      if (!isValidKey(key) || !isValidValue(value)) return undefined;
      if (!list.some((e) => e[0] === key)) list.push([key, value]);
    }
    return list.length ? new W3CTraceState(truncate(list)) : undefined;
  }

  /** A new list with these entries (invalid ones left out), e.g. for a root span's `ot` entry. */
  static of(entries: readonly Entry[]): W3CTraceState {
    return new W3CTraceState(truncate(entries.filter(([k, v]) => isValidKey(k) && isValidValue(v)).slice(0, MAX_MEMBERS)));
  }

  get(key: string): string | undefined {
    const l = this.list;
    for (let i = 0; i < l.length; i++) if (l[i]![0] === key) return l[i]![1];
    return undefined;
  }

  /** Added or updated entries move to the left; over 32 members, the right-most goes. */
  set(key: string, value: string): W3CTraceState {
    if (!isValidKey(key) || !isValidValue(value)) return this;
    if (this.list[0]?.[0] === key && this.list[0][1] === value) return this;
    const next: Entry[] = [[key, value]];
    for (const e of this.list) if (e[0] !== key && next.length < MAX_MEMBERS) next.push(e);
    return new W3CTraceState(truncate(next));
  }

  unset(key: string): W3CTraceState {
    if (this.get(key) === undefined) return this;
    return new W3CTraceState(this.list.filter((e) => e[0] !== key));
  }

  serialize(): string {
    if (this.text === undefined) this.text = this.list.map((e) => `${e[0]}=${e[1]}`).join(',');
    return this.text;
  }
}

function lengthOf(list: readonly Entry[]): number {
  let n = list.length ? list.length - 1 : 0;
  for (const e of list) n += e[0].length + 1 + e[1].length;
  return n;
}

/** Whole entries off until the combined value fits in 512 characters: long ones first, then from the right. */
function truncate(list: readonly Entry[]): readonly Entry[] {
  if (lengthOf(list) <= MAX_LENGTH) return list;
  const out = [...list];
  for (let i = out.length - 1; i >= 0 && lengthOf(out) > MAX_LENGTH; i--) {
    const e = out[i]!;
    if (e[0].length + 1 + e[1].length > LONG_ENTRY) out.splice(i, 1);
  }
  while (lengthOf(out) > MAX_LENGTH) out.pop();
  return out;
}
