/**
 * The first function on a module's exports that another shimmer-based
 * instrumentation (a second OpenTelemetry SDK, an older agent) already wrapped.
 * Reads property descriptors only: a getter on exports may load optional
 * dependencies, which must not happen because we looked.
 */
export function foreignWrapper(exports: unknown): string | undefined {
  const wrapped = (f: unknown): boolean =>
    typeof f === 'function' && ((f as { __wrapped?: unknown }).__wrapped === true || typeof (f as { __original?: unknown }).__original === 'function');
  const scan = (obj: object, prefix: string, depth: number): string | undefined => {
    let names: (string | symbol)[];
    try {
      names = Reflect.ownKeys(obj).slice(0, 200);
    } catch {
      return undefined;
    }
    for (const k of names) {
      if (typeof k !== 'string' || k === 'constructor' || k === 'prototype' || k === 'caller' || k === 'arguments') continue;
      let d: PropertyDescriptor | undefined;
      try {
        d = Object.getOwnPropertyDescriptor(obj, k);
      } catch {
        continue;
      }
      const val: unknown = d && 'value' in d ? d.value : undefined;
      if (wrapped(val)) return prefix + k;
      if (depth > 0 && typeof val === 'function' && val.prototype && typeof val.prototype === 'object') {
        const hit = scan(val.prototype as object, `${prefix}${k}.prototype.`, 0);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  if (exports === null || (typeof exports !== 'object' && typeof exports !== 'function')) return undefined;
  if (wrapped(exports)) return '(module exports)';
  const own = scan(exports as object, '', 1);
  if (own) return own;
  const proto = (exports as { prototype?: unknown }).prototype;
  return typeof exports === 'function' && proto && typeof proto === 'object' ? scan(proto, 'prototype.', 0) : undefined;
}
