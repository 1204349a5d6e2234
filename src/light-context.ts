/**
 * A Context (the @opentelemetry/api interface) that costs one small object
 * per setValue, for the contexts the agent creates on every request.
 *
 * Why: the API's BaseContext copies its whole Map on every setValue and gives
 * each copy three closures of its own (getValue, setValue, deleteValue):
 * five allocations for `trace.setSpan(ctx, span)`, which every request pays
 * at least once, sampled or not (bench/NOTES.md: about 1 µs a request in
 * the Express + pg profile). Here a context is a link to its parent holding
 * one key and value; reads walk the links. So that nothing can build an
 * unbounded chain (code that keeps deriving a context from the previous one,
 * a poll loop run inside its last iteration's context), a link deeper than
 * MAX_DEPTH is flattened into one Map of the links above it (deletions
 * included), and the walk starts again from there.
 *
 * What callers see is the interface's behaviour: values are inherited,
 * setValue and deleteValue return a new context and never change the one they
 * are called on, a deleted key reads as undefined. It starts from
 * LIGHT_ROOT (empty) or from any other Context, whose values are read through.
 */
import type { Context } from '@opentelemetry/api';

const MAX_DEPTH = 16;
/** Marks a link that deletes its key. */
const DELETED: unique symbol = Symbol('deleted');

export class LightContext implements Context {
  /** Links between this one and the nearest flat one (or the foreign base). */
  private readonly depth: number;

  private constructor(
    /** A LightContext, a foreign Context (read through) or undefined. */
    private readonly parent: Context | undefined,
    private readonly key: symbol | undefined,
    private readonly value: unknown,
    /** Set on a flattened link: every key the links it replaced set or deleted (DELETED). */
    private readonly flat: Map<symbol, unknown> | undefined,
  ) {
    this.depth = flat !== undefined || !(parent instanceof LightContext) ? 0 : parent.depth + 1;
  }

  /** An empty context, or one that reads through to `base` (a Context from elsewhere). */
  static over(base?: Context): LightContext {
    return new LightContext(base, undefined, undefined, undefined);
  }

  getValue(key: symbol): unknown {
    let c: LightContext = this;
    for (;;) {
      if (c.key === key) return c.value === DELETED ? undefined : c.value;
      if (c.flat !== undefined && c.flat.has(key)) {
        const v = c.flat.get(key);
        return v === DELETED ? undefined : v;
      }
      const p = c.parent;
      if (!(p instanceof LightContext)) return p?.getValue(key);
      c = p;
    }
  }

  setValue(key: symbol, value: unknown): Context {
    return this.link(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.link(key, DELETED);
  }

  private link(key: symbol, value: unknown): LightContext {
    if (this.depth < MAX_DEPTH) return new LightContext(this, key, value, undefined);
    // Only reached MAX_DEPTH links deep, never on a request's usual path.
    const { flat, base } = this.flatten();
    flat.set(key, value);
    return new LightContext(base, undefined, undefined, flat);
  }

  /** The links up to the foreign base (or the empty root) as one Map, deletions kept as DELETED. */
  private flatten(): { flat: Map<symbol, unknown>; base: Context | undefined } {
    const chain: LightContext[] = [];
    let c: LightContext = this;
    for (;;) {
      chain.push(c);
      const p = c.parent;
      if (!(p instanceof LightContext)) break;
      c = p;
    }
    const flat = new Map<symbol, unknown>();
    for (let i = chain.length - 1; i >= 0; i--) {
      const l = chain[i]!;
      if (l.flat !== undefined) for (const [k, v] of l.flat) flat.set(k, v);
      if (l.key !== undefined) flat.set(l.key, l.value);
    }
    return { flat, base: c.parent };
  }
}

/** The empty context requests start from (in place of the API's ROOT_CONTEXT). */
export const LIGHT_ROOT: Context = LightContext.over();
