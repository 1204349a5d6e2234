/**
 * Who else listens to a termination signal, and whether the agent may act.
 *
 * signal-exit (v3 and v4) re-raises a signal only when every listener on it
 * is one of its own; our listener made it defer forever, while we deferred
 * to it. Its listeners are recognised by count: v3 keeps a global emitter on
 * `process.__signal_exit_emitter__`, v4 on `Symbol.for('signal-exit emitter')`,
 * each with `count` = loaded copies (one listener per signal per copy).
 * Any other listener (an app handler, exit-hook, async-exit-hook) decides
 * what the signal means, as in bare node.
 */
export interface SignalListeners {
  signalExitV3: number;
  signalExitV4: number;
  /** Listeners that are neither ours nor signal-exit's. */
  others: number;
}

function count(holder: unknown): number {
  const c = (holder as { count?: unknown } | undefined)?.count;
  return typeof c === 'number' && c > 0 ? c : 0;
}

/** A signal listener as process.listeners() returns it. */
type Listener = (...args: unknown[]) => unknown;

export function classify(sig: NodeJS.Signals, own: (...a: unknown[]) => void): SignalListeners & { all: Listener[] } {
  const all = process.listeners(sig) as Listener[];
  const v3 = count((process as unknown as { __signal_exit_emitter__?: unknown }).__signal_exit_emitter__);
  const v4 = count((globalThis as unknown as Record<symbol, unknown>)[Symbol.for('signal-exit emitter')]);
  const foreign = all.filter((f) => f !== own).length;
  return { all, signalExitV3: v3, signalExitV4: v4, others: Math.max(0, foreign - v3 - v4) };
}

/** v4's listener checks the v3 emitter too; v3's does not. Property names survive minifiers. */
function looksLikeV4(fn: Listener): boolean {
  return Function.prototype.toString.call(fn).includes('__signal_exit_emitter__');
}

/**
 * With only signal-exit listeners left once ours is removed: does one that
 * runs after ours in this same emit re-raise the signal itself? (v4 always
 * does; v3 only when no v4 copy is loaded.) If not, we must re-raise, and the
 * second delivery finds signal-exit alone, as in bare node.
 */
export function signalExitActsAfter(all: Listener[], own: Listener, l: SignalListeners): boolean {
  const after = all.slice(all.indexOf(own) + 1);
  if (after.length === 0) return false;
  if (l.signalExitV3 === 0 || l.signalExitV4 === 0) return true;
  return after.some(looksLikeV4);
}
