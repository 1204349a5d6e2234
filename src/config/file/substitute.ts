/**
 * Environment variable substitution in a configuration file's scalar values,
 * as the OpenTelemetry configuration data model defines it
 * (specification/configuration/data-model.md, "Environment variable
 * substitution"):
 *
 * - `${NAME}` and `${env:NAME}` are replaced by the variable's value, `""` when
 *   it is unset; `${NAME:-default}` uses `default` when it is unset or empty;
 * - `$$` is a literal `$`, and the `$` it yields never starts a reference;
 * - a replacement is used verbatim: it is never substituted again, and it
 *   cannot inject YAML structure (the caller types the result as a scalar);
 * - a `${...}` that is not a valid reference (`${1API}`, `${A:?err}`) is an
 *   error for the whole file: no partial result.
 */

const REF = /\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^\n}]*))?\}/g;
const INVALID = /\$\{[^}]*\}/;

export class SubstitutionError extends Error {
  constructor(readonly reference: string) {
    super(`invalid substitution reference ${reference}`);
  }
}

/** Substitutes the references in one stretch of text that holds no `$$` escape. */
function substitutePart(part: string, env: Readonly<Record<string, string | undefined>>): string {
  let out = '';
  let last = 0;
  REF.lastIndex = 0;
  for (let m = REF.exec(part); m; m = REF.exec(part)) {
    const between = part.slice(last, m.index);
    const bad = INVALID.exec(between);
    if (bad) throw new SubstitutionError(bad[0]);
    const value = env[m[1]!];
    out += between + (value === undefined || value === '' ? (m[2] ?? '') : value);
    last = m.index + m[0].length;
  }
  const rest = part.slice(last);
  const bad = INVALID.exec(rest);
  if (bad) throw new SubstitutionError(bad[0]);
  return out + rest;
}

/** `text` with every reference substituted; throws SubstitutionError on an invalid one. */
export function substitute(text: string, env: Readonly<Record<string, string | undefined>>): string {
  if (!text.includes('$')) return text;
  // Left to right: each `$$` ends a stretch that is substituted on its own, then yields one `$`.
  let out = '';
  let from = 0;
  for (let i = text.indexOf('$$'); i >= 0; i = text.indexOf('$$', from)) {
    out += substitutePart(text.slice(from, i), env) + '$';
    from = i + 2;
  }
  return out + substitutePart(text.slice(from), env);
}

/**
 * The value of a plain (unquoted) scalar after substitution, typed by the
 * YAML 1.2 core schema: null, bool, int (decimal, 0o, 0x), float, else string.
 * Quoted scalars stay strings (the caller does not call this for them).
 */
export function coreScalar(s: string): string | number | boolean | null {
  if (s === '' || s === '~' || /^(?:null|Null|NULL)$/.test(s)) return null;
  if (/^(?:true|True|TRUE)$/.test(s)) return true;
  if (/^(?:false|False|FALSE)$/.test(s)) return false;
  if (/^[-+]?[0-9]+$/.test(s)) return Number(s);
  if (/^0o[0-7]+$/.test(s)) return parseInt(s.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(s)) return Number(s);
  if (/^[-+]?(?:\.inf|\.Inf|\.INF)$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^(?:\.nan|\.NaN|\.NAN)$/.test(s)) return NaN;
  return s;
}
