/**
 * Lazy activation: one resolve hook (module.registerHooks, which sees both
 * require() and import) watches for the first load of a module in the table
 * and only then runs that entry's factory. The factory registers the
 * instrumentation's require-in-the-middle and import-in-the-middle hooks before
 * the module itself is evaluated, so the very first load is already patched.
 */
import { context, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { Entry, InstrContext } from './index';
import { packageName } from '../package-name';

export interface ActivationRecord {
  name: string;
  trigger: string;
  /** `bundle`: a module inside a bundle built with one of the build plugins (src/bundled.ts). */
  how: 'require' | 'import' | 'fetch' | 'bundle';
  at: number;
  ok: boolean;
  error?: string;
  instrumentations: Instrumentation[];
}

export interface LazyLoader {
  activate(entry: Entry, trigger: string, how: ActivationRecord['how']): void;
  /** Activates what a module of package `spec` activates, as its resolution would (a bundled module announcing itself). */
  activateFor(spec: string, how: ActivationRecord['how']): void;
  records: ActivationRecord[];
  pending(): string[];
}

/** Runs fn with tracing suppressed, but only pays for it when a span is active. */
export function quiet<T>(fn: () => T): T {
  const ctx = context.active();
  return trace.getSpan(ctx) ? context.with(suppressTracing(ctx), fn) : fn();
}

/** Sees every bare specifier the app resolves (package name, require or import, resolved URL); installed only for diagnostics. */
export type ResolveObserver = (pkg: string, how: ActivationRecord['how'], resolvedUrl: string | undefined) => void;

export function installLazyLoader(entries: Entry[], ctx: InstrContext, onActivated?: (r: ActivationRecord) => void, observe?: ResolveObserver): LazyLoader {
  // A specifier may activate several entries: node:http2 activates http2 and http (whose https patch
  // traces the HTTP/1.1 requests of an allowHTTP1 server), and an OTEL_AGENT_EXTRA_INSTRUMENTATIONS
  // package may patch a module ours patch too.
  const exact = new Map<string, Entry[]>();
  const prefixes: [string, Entry][] = [];
  for (const e of entries) {
    for (const t of [...e.triggers, ...(e.alsoOn ?? [])]) {
      if (t.endsWith('/')) prefixes.push([t, e]);
      else exact.set(t, [...(exact.get(t) ?? []), e]);
    }
  }
  const done = new Set<string>();
  const records: ActivationRecord[] = [];

  const loader: LazyLoader = {
    records,
    pending: () => entries.filter((e) => !done.has(e.name)).map((e) => e.name),
    activateFor: () => undefined,
    activate(entry, trigger, how) {
      if (done.has(entry.name)) return;
      done.add(entry.name);
      const rec: ActivationRecord = { name: entry.name, trigger, how, at: Date.now(), ok: true, instrumentations: [] };
      try {
        // Activation often happens inside a traced request (the first pg query is
        // usually in a handler); reading the instrumentation's own file must not
        // show up as that request's fs spans.
        rec.instrumentations = context.with(suppressTracing(context.active()), () => entry.create(ctx));
      } catch (e) {
        rec.ok = false;
        rec.error = e instanceof Error ? e.message : String(e);
        ctx.log.warn(`instrumentation "${entry.name}" could not be loaded (${rec.error}); ${trigger} will run untraced`);
      }
      records.push(rec);
      onActivated?.(rec);
    },
  };

  // Modules the agent's own machinery loads (import-in-the-middle's loader reads
  // files with fs, for instance) must not count as the app using them.
  const ownDirs = [__dirname, '/node_modules/import-in-the-middle/', '/node_modules/require-in-the-middle/'];
  const fromAgent = (parent: string | undefined): boolean => !!parent && ownDirs.some((d) => parent.includes(d));

  let left = entries.length;
  const check = (spec: string, how: ActivationRecord['how'], parent?: string): void => {
    if (left === 0) return;
    const c = spec.charCodeAt(0);
    if (c === 46 /* . */ || c === 47 /* / */ || spec.startsWith('file:')) return;
    const pkg = packageName(spec);
    let found = exact.get(pkg);
    if (!found) {
      for (const [p, pe] of prefixes) {
        if (spec.startsWith(p)) {
          found = [pe];
          break;
        }
      }
    }
    if (!found || fromAgent(parent)) return;
    for (const e of found) if (!done.has(e.name)) loader.activate(e, spec, how);
    left = entries.length - done.size;
  };
  loader.activateFor = (spec, how) => {
    check(spec, how);
    if (observe) observe(packageName(spec), how, undefined);
  };

  const mod = process.getBuiltinModule('node:module') as unknown as {
    registerHooks?: (h: {
      resolve: (s: string, c: { conditions?: readonly string[]; parentURL?: string }, n: (s: string, c?: unknown) => unknown) => unknown;
      load: (u: string, c: unknown, n: (u: string, c?: unknown) => unknown) => unknown;
    }) => unknown;
  };
  if (typeof mod.registerHooks === 'function') {
    mod.registerHooks({
      resolve(specifier, context, next) {
        const how = context.conditions?.includes('require') ? 'require' : 'import';
        try {
          check(specifier, how, context.parentURL);
        } catch {
          // Activation problems are reported by activate(); resolution itself must never fail because of us.
        }
        const resolved = quiet(() => next(specifier, context));
        if (observe) {
          const c = specifier.charCodeAt(0);
          if (c !== 46 /* . */ && c !== 47 /* / */ && !specifier.startsWith('file:') && !fromAgent(context.parentURL)) {
            try {
              observe(packageName(specifier), how, (resolved as { url?: string } | undefined)?.url);
            } catch {
              /* diagnostics must never fail a resolution */
            }
          }
        }
        return resolved;
      },
      // With customization hooks registered, Node's loader reads module files
      // through the public fs API, which the fs instrumentation patches: a
      // require() inside a traced request would show up as fs spans. Loading
      // code is not the app's I/O.
      load(url, context, next) {
        return quiet(() => next(url, context));
      },
    });
  }

  // require-in-the-middle resolves every require() itself through
  // Module._resolveFilename, outside the hooks above; its file-system probing
  // (realpath, stat) is module loading too, not the app's I/O.
  const M = mod as unknown as { _resolveFilename?: (...a: unknown[]) => unknown };
  const resolveFilename = M._resolveFilename;
  if (typeof resolveFilename === 'function') {
    M._resolveFilename = function (this: unknown, ...a: unknown[]) {
      return quiet(() => resolveFilename.apply(this, a));
    };
  }

  // Global fetch needs no import: activate undici's instrumentation on first
  // use of the global instead, so apps that never fetch never load it.
  const undici = entries.find((e) => e.name === 'undici');
  if (undici) {
    const desc = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
    if (desc && desc.configurable && 'value' in desc) {
      Object.defineProperty(globalThis, 'fetch', {
        configurable: true,
        enumerable: desc.enumerable ?? false,
        get() {
          Object.defineProperty(globalThis, 'fetch', desc);
          loader.activate(undici, 'fetch', 'fetch');
          return desc.value as unknown;
        },
        set(v: unknown) {
          Object.defineProperty(globalThis, 'fetch', { ...desc, value: v });
        },
      });
    }
  }
  return loader;
}

/**
 * ESM: import-in-the-middle wraps only the modules on the include list, in
 * thread via module.registerHooks where this Node supports it, else on the
 * loader thread via module.register.
 */
export function installEsmHooks(include: string[], mode: 'auto' | 'sync' | 'async' | 'off'): 'sync' | 'async' | 'off' {
  if (mode === 'off' || include.length === 0) return 'off';
  const rh = require('import-in-the-middle/register-hooks.mjs') as {
    register(o: { include: string[] }): void;
    supportsSyncHooks(): boolean;
  };
  if (mode !== 'async' && rh.supportsSyncHooks()) {
    rh.register({ include });
    return 'sync';
  }
  const mod = process.getBuiltinModule('node:module') as unknown as { register(spec: string, parent: URL, o: { data: unknown }): void };
  const { pathToFileURL } = process.getBuiltinModule('node:url') as typeof import('node:url');
  mod.register(require.resolve('import-in-the-middle/hook.mjs'), pathToFileURL(__filename), { data: { include } });
  return 'async';
}
