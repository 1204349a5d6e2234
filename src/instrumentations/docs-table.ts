/**
 * The "what is traced" table of docs/instrumentations.md, generated from the
 * registry's docs snippets by scripts/instrumentations-table.mjs and checked
 * by test/core/registry.unit.test.ts.
 */
import type { Definition } from './definition';

export const TABLE_START = '<!-- INSTRUMENTATIONS:START -->';
export const TABLE_END = '<!-- INSTRUMENTATIONS:END -->';

const esc = (s: string): string => s.replace(/\|/g, '\\|');

export function instrumentationsTable(defs: readonly Definition[]): string {
  const rows = defs.map((d) => {
    const code = 'upstream' in d.source ? `upstream \`${d.source.upstream}\`` : 'this agent';
    return `| \`${d.name}\` | ${esc(d.docs.module)} | ${esc(d.docs.spans)} | ${esc(code)} | ${esc(d.docs.versions)} | [${d.docs.page}](${d.docs.page}) |`;
  });
  return ['| Name | Module | Spans | Code | Supported versions | Page |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

/** The markdown with the table between the markers replaced. */
export function withTable(md: string, table: string): string {
  const i = md.indexOf(TABLE_START);
  const j = md.indexOf(TABLE_END);
  if (i < 0 || j < i) throw new Error(`no ${TABLE_START} / ${TABLE_END} markers`);
  return `${md.slice(0, i + TABLE_START.length)}\n${table}\n${md.slice(j)}`;
}
