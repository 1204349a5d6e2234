/**
 * The spec (src/config/spec.ts) as the docs and the doctor show it: one row per
 * variable with its default in words. docs/configuration.md's table is generated
 * from VARS (scripts/readme-vars.mjs) and the doctor lists VARS, in this order.
 */
import { SPEC, type VarSpec } from './spec';

export interface VarDoc {
  name: string;
  /** The default in words: the value, or what it comes from. */
  default: string;
  effect: string;
  kind: VarSpec['kind'];
}

/** The docs table's "Default" column; also what the doctor shows for an unset variable. */
export function defaultText(s: VarSpec): string {
  if (s.docDefault !== undefined) return s.docDefault;
  if (s.inherits) return `(from ${s.inherits})`;
  switch (s.kind) {
    case 'bool':
    case 'int':
    case 'number':
    case 'enum':
      return String(s.default);
    case 'list':
      // `none` where it is a value one can write; `(none)` where it is only a description.
      return s.default.length ? s.default.join(',') : s.allowed.includes('none') ? 'none' : '(none)';
    case 'url':
    case 'string':
      return s.default || '(none)';
    default:
      return '(none)';
  }
}

export const VARS: readonly VarDoc[] = Object.freeze(
  SPEC.map((s: VarSpec) => Object.freeze({ name: s.name, default: defaultText(s), effect: s.doc, kind: s.kind })),
);
