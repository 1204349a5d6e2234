/**
 * Attribute values and limits, by the SDK's rules: OpenTelemetry AnyValue for
 * spans and links, "simple" values for events; undefined is skipped
 * silently, invalid values are dropped with a warning, strings are cut to the
 * length limit and attributes past the count limit are counted as dropped.
 */
import { diag, type Attributes, type AttributeValue, type Link } from '@opentelemetry/api';

/** string, number, boolean, null, bytes, arrays and plain objects of those; no cycles. */
export function isAnyValue(v: unknown, path?: unknown[]): boolean {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (v === null || v instanceof Uint8Array) return true;
  const stack = path ?? [];
  if (stack.includes(v)) return false;
  stack.push(v);
  let ok = true;
  if (Array.isArray(v)) {
    for (const item of v as unknown[]) {
      if (item !== undefined && !isAnyValue(item, stack)) {
        ok = false;
        break;
      }
    }
  } else {
    const proto = (v as { constructor?: unknown }).constructor;
    if (proto !== Object && proto !== undefined) ok = false;
    else {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const item = o[k];
        if (item !== undefined && !isAnyValue(item, stack)) {
          ok = false;
          break;
        }
      }
    }
  }
  stack.pop();
  return ok;
}

const isPrimitiveType = (t: string): boolean => t === 'string' || t === 'number' || t === 'boolean';

/** A string, number or boolean, or an array of one of those types (null/undefined items allowed). */
export function isSimpleValue(v: unknown): boolean {
  if (!Array.isArray(v)) return isPrimitiveType(typeof v);
  let type: string | undefined;
  for (const item of v as unknown[]) {
    if (item == null) continue;
    const t = typeof item;
    if (t === type) continue;
    if (type !== undefined || !isPrimitiveType(t)) return false;
    type = t;
  }
  return true;
}

/** The stored value: strings (also inside arrays and maps) cut to `limit`, arrays and maps copied. */
export function copyValue(v: unknown, limit: number): unknown {
  if (typeof v === 'string') return v.length > limit ? v.substring(0, limit) : v;
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof Uint8Array) return v.length > limit ? v.slice(0, limit) : v;
  if (Array.isArray(v)) return (v as unknown[]).map((x) => copyValue(x, limit));
  const out: Record<string, unknown> = {};
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (o[k] !== undefined) out[k] = copyValue(o[k], limit);
  return out;
}

/** The attribute count after the last cleanInto() (a module variable: no result object per call). */
export let cleanedCount = 0;

/**
 * Copies the valid entries of `src` into `into`, which holds `count`
 * attributes, under a count limit; returns how many were dropped (over the
 * limit or invalid) and leaves the new count in `cleanedCount`. Keys already
 * in `into` are overwritten without counting against the limit.
 */
export function cleanInto(into: Attributes, count: number, src: Attributes, countLimit: number, lengthLimit: number, simple: boolean): number {
  let dropped = 0;
  for (const k in src) {
    if (!Object.hasOwn(src, k)) continue;
    const v = src[k];
    if (v === undefined) continue;
    const isNew = !Object.hasOwn(into, k);
    if (isNew && count >= countLimit) {
      dropped++;
      continue;
    }
    if (k.length === 0) {
      diag.warn('Invalid attribute key: (empty)');
      dropped++;
      continue;
    }
    if (!(simple ? isSimpleValue(v) : isAnyValue(v))) {
      diag.warn(`Invalid attribute value set for key: ${k}`);
      dropped++;
      continue;
    }
    into[k] = copyValue(v, lengthLimit) as AttributeValue;
    if (isNew) count++;
  }
  cleanedCount = count;
  return dropped;
}

/**
 * The start attributes of a span, when they need no change but copying: a
 * spread copy (V8 clones a fast object's shape and values in one step), then
 * one pass that checks every value and copies arrays and maps. Returns
 * undefined when something must be left out (undefined or invalid values, an
 * empty key, more than the count limit) or cut (strings over the length
 * limit): cleanInto() then does it entry by entry. Leaves the count in
 * `cleanedCount`.
 *
 * Instrumentations pass most attributes at start (a dozen for an HTTP span):
 * copying them one key at a time into an empty object costs about 40 ns per
 * attribute, mostly in the generic keyed stores that add each property; the
 * spread copy costs a few.
 */
export function cloneValid(src: Attributes, countLimit: number, lengthLimit: number): Attributes | undefined {
  const a: Attributes = { ...src };
  let n = 0;
  for (const k in a) {
    const v = a[k];
    switch (typeof v) {
      case 'string':
        if (v.length > lengthLimit) return undefined;
        break;
      case 'number':
      case 'boolean':
        break;
      default:
        if (v === undefined || !isAnyValue(v)) return undefined;
        a[k] = copyValue(v, lengthLimit) as AttributeValue;
    }
    if (k.length === 0) return undefined;
    n++;
  }
  if (n > countLimit) return undefined;
  cleanedCount = n;
  return a;
}

export interface Limits {
  attributeCountLimit: number;
  attributeValueLengthLimit: number;
  eventCountLimit: number;
  linkCountLimit: number;
  attributePerEventCountLimit: number;
  attributePerLinkCountLimit: number;
}

export type StoredLink = Link & { droppedAttributesCount?: number };

export function cleanLink(l: Link, limits: Limits): StoredLink {
  if (!l.attributes) return { context: l.context };
  const attributes: Attributes = {};
  const dropped = cleanInto(attributes, 0, l.attributes, limits.attributePerLinkCountLimit, limits.attributeValueLengthLimit, false);
  return { context: l.context, attributes, droppedAttributesCount: dropped };
}
