/**
 * The storage behind the active context, for the HTTP emit patches.
 *
 * context.with(ctx, fn) puts four frames between the emitter and the app's
 * listener (ContextAPI.with, AsyncLocalStorageContextManager.with,
 * AsyncLocalStorage.run, and the callback that re-applies `this`). Node's
 * default stack trace keeps 10 frames, so those four push the app's own
 * callers out of every stack captured in a request handler. Entering the
 * context on the manager's AsyncLocalStorage directly, inside the patched
 * emit, leaves the patched emit as the only extra frame: nothing can run the
 * app's listener in a context without some frame of ours around it.
 *
 * enterWith(ctx) + finally enterWith(prior) is what AsyncLocalStorage.run()
 * itself does (both in Node 22's async_hooks implementation and Node 24's
 * AsyncContextFrame one); run() only adds its own frame.
 *
 * Only the upstream AsyncLocalStorageContextManager (the one the agent
 * registers) is recognised; with any other manager, callers fall back to
 * context.with().
 */
import { context } from '@opentelemetry/api';

export interface ContextStore {
  getStore(): unknown;
  enterWith(store: unknown): void;
}

interface WithManager {
  _getContextManager?: () => unknown;
}

let lastManager: unknown;
let lastStore: ContextStore | undefined;

/** The AsyncLocalStorage the registered context manager keeps contexts in, or undefined if it is not one we know. */
export function contextStore(): ContextStore | undefined {
  const cm = (context as unknown as WithManager)._getContextManager?.();
  if (cm === lastManager) return lastStore;
  lastManager = cm;
  const als = (cm as { _asyncLocalStorage?: Partial<ContextStore> } | undefined)?._asyncLocalStorage;
  lastStore = als && typeof als.enterWith === 'function' && typeof als.getStore === 'function' ? (als as ContextStore) : undefined;
  return lastStore;
}
