/**
 * What one instrumentation declares about itself, in its folder's
 * definition.ts. registry.ts lists every definition; the env validation, the
 * build (scripts/build.mjs), the doctor and the "what is traced" docs table
 * are all derived from that list.
 *
 * A definition is loaded by the thin entry (the names are validated before the
 * agent starts), so it imports types only: the instrumentation's code is loaded
 * at activation, from dist/instr/<name>.cjs, through the Kit it is handed.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { AgentConfig } from '../env';
import type { AgentLog } from '../log';

export interface InstrContext {
  cfg: AgentConfig;
  log: AgentLog;
  /** A fresh copy of process.env, for what a child process or worker inherits (only src/config/ reads process.env). */
  parentEnv?: () => Record<string, string | undefined>;
}

/** Helpers for a definition's create(), provided by instrumentations/index.ts at activation. */
export interface Kit {
  /** Constructs the class `exportName` of dist/instr/<file>.cjs with `config`. */
  one<C>(file: string, exportName: string, config: C): Instrumentation[];
  /** Loads dist/instr/<file>.cjs (the definition's own `bundles`). */
  load<T>(file: string): T;
  /** Runs fn with tracing suppressed: activation inside a traced request must not trace its own file reads. */
  untraced<T>(fn: () => T): T;
}

/** Where the code comes from: an upstream package's export, or a file in the definition's folder. */
export type Source =
  | {
      upstream: string;
      export: string;
      /** Bundle the package's CommonJS build (what require() resolves) instead of its ESM build. */
      commonjs?: boolean;
    }
  | { own: string; export: string };

export interface DocsSnippet {
  /** The module or package, as a user would name it. */
  module: string;
  /** Where the supported versions come from. */
  versions: string;
  /** One line: the spans it makes. */
  spans: string;
  /** The docs page (relative to docs/) that describes it. */
  page: string;
}

export interface Definition {
  name: string;
  /** Bare specifiers (or prefixes ending in '/') whose first resolution activates it; builtins without `node:`. Empty: activated some other way. */
  triggers: readonly string[];
  /**
   * Modules whose first load also activates it, without it patching them (so a disabled entry is
   * not reported as the reason they are unpatched): http is activated by node:http2, whose
   * allowHTTP1 servers hand it their HTTP/1.1 requests.
   */
  alsoOn?: readonly string[];
  /** Specifiers to put on the import-in-the-middle include list, so ESM imports of them are wrappable. */
  esm: readonly string[];
  source: Source;
  /** Other files of the folder, each bundled to dist/instr/<name>-<file without .ts>.cjs and loaded with kit.load(). */
  bundles?: readonly string[];
  /** Builds the instrumentations, from the agent configuration. Absent: not activated by a module load (see `triggers`). */
  create?(ctx: InstrContext, kit: Kit): Instrumentation[];
  docs: DocsSnippet;
}

/** The dist/instr file name of a definition's extra bundle. */
export function bundleName(d: Pick<Definition, 'name'>, file: string): string {
  return `${d.name}-${file.replace(/\.ts$/, '')}`;
}

export const builtin = (...names: string[]): string[] => names.flatMap((n) => [n, `node:${n}`]);
