/**
 * The instrumentations activated by a module load: short name -> which module
 * loads trigger it, and a factory that is only called when one of those modules
 * is first required or imported. An app that never loads `pg` never loads the
 * pg instrumentation. Each one is declared in its folder's definition.ts
 * (listed in registry.ts).
 *
 * In the built agent every instrumentation is a separate file under
 * dist/instr/, bundled against one shared copy of @opentelemetry/instrumentation
 * and @opentelemetry/api (see scripts/build.mjs), so the upstream packages'
 * exact-version pins do not turn into a dozen nested copies.
 */
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { AgentConfig } from '../env';
import type { InstrContext, Kit } from './definition';
import { DEFINITIONS } from './registry';

export type { InstrContext } from './definition';

export interface Entry {
  name: string;
  /** Bare specifiers (or prefixes ending in '/') whose first resolution activates the entry; builtins without `node:`. */
  triggers: readonly string[];
  /** Modules that also activate it, without being patched by it (Definition.alsoOn). */
  alsoOn?: readonly string[];
  /** Specifiers to put on the import-in-the-middle include list, so ESM imports of them are wrappable. */
  esm: readonly string[];
  create(ctx: InstrContext): Instrumentation[];
}

/** Loads a bundled instrumentation file; the path is computed so the bundler leaves it alone. */
function load<T>(file: string): T {
  return require(`${__dirname}/instr/${file}.cjs`) as T;
}

type Ctor<C> = new (config?: C) => Instrumentation;

const kit: Kit = {
  load,
  one<C>(file: string, exportName: string, config: C): Instrumentation[] {
    const mod = load<Record<string, Ctor<C>>>(file);
    const C = mod[exportName];
    if (typeof C !== 'function') throw new Error(`${file} has no export ${exportName}`);
    return [new C(config)];
  },
  /**
   * Activation can happen in the middle of a traced request (the first fetch()
   * is often inside a handler); loading the instrumentation's file reads it
   * through the patched fs, which must not show up as the request's fs spans.
   */
  untraced: (fn) => context.with(suppressTracing(context.active()), fn),
};

export const ENTRIES: readonly Entry[] = DEFINITIONS.flatMap((d): Entry[] => {
  const create = d.create;
  return create ? [{ name: d.name, triggers: d.triggers, alsoOn: d.alsoOn, esm: d.esm, create: (ctx) => create(ctx, kit) }] : [];
});

/** All on unless OTEL_NODE_ENABLED_INSTRUMENTATIONS lists some; minus OTEL_NODE_DISABLED_INSTRUMENTATIONS. */
export function enabledEntries(cfg: AgentConfig): Entry[] {
  const on = cfg.enabledInstrumentations;
  const off = new Set(cfg.disabledInstrumentations);
  return ENTRIES.filter((e) => (on ? on.includes(e.name) : true) && !off.has(e.name));
}
