/**
 * Reads an OTEL_CONFIG_FILE: YAML 1.2 (core schema) with the `yaml` package,
 * environment variables substituted in scalar values (substitute.ts), node
 * types interpreted after substitution. The result is plain data plus the
 * line of every value, so a warning can point at `config.yaml:12`.
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { coreScalar, substitute, SubstitutionError } from './substitute';

export type Data = null | boolean | number | string | Data[] | { [key: string]: Data };

export interface Parsed {
  data: Data;
  /** `tracer_provider.processors[0].batch` -> 1-based line of that key's value. */
  lines: Map<string, number>;
}

export class FileError extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

export function parseConfigText(text: string, env: Env): Parsed {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, schema: 'core', uniqueKeys: true, prettyErrors: false });
  const err = doc.errors[0];
  if (err) {
    const line = err.pos ? lc.linePos(err.pos[0]).line : undefined;
    throw new FileError(`${line ? `line ${line}: ` : ''}${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const lines = new Map<string, number>();
  const lineOf = (n: Node | null | undefined): number | undefined => (n?.range ? lc.linePos(n.range[0]).line : undefined);

  const walk = (n: unknown, path: string): Data => {
    const line = lineOf(n as Node);
    if (line !== undefined) lines.set(path, line);
    if (isMap(n)) {
      const out: { [key: string]: Data } = {};
      for (const item of n.items) {
        if (!isPair(item)) continue;
        // Keys are never substituted.
        const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const p = path ? `${path}.${key}` : key;
        const kl = lineOf(item.key as Node);
        out[key] = walk(item.value, p);
        if (kl !== undefined) lines.set(p, kl);
      }
      return out;
    }
    if (isSeq(n)) return n.items.map((item, i) => walk(item, `${path}[${i}]`));
    if (isScalar(n)) {
      const v = n.value;
      if (typeof v !== 'string' || !v.includes('$')) return v as Data;
      let s: string;
      try {
        s = substitute(v, env);
      } catch (e) {
        if (e instanceof SubstitutionError) throw new FileError(`line ${line ?? '?'}: ${e.message}`);
        throw e;
      }
      // Only plain scalars are typed after substitution; quoted ones stay strings.
      return n.type === 'PLAIN' ? coreScalar(s) : s;
    }
    return null;
  };
  return { data: walk(doc.contents, ''), lines };
}

export function readConfigFile(path: string, env: Env): Parsed {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new FileError(`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseConfigText(text, env);
}
