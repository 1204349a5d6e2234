/**
 * Delivering spans when the process ends, without changing how it ends.
 *
 * - Event loop drains, process.exit(n), uncaught exceptions: all end in
 *   'exit', which allows only synchronous work, so whatever is still pending
 *   (queued or in flight) goes through the exporters' synchronous path,
 *   bounded by OTEL_AGENT_FLUSH_TIMEOUT. An export in flight holds a finished
 *   app for at most that long too (see HttpTarget.holdMs), so a batch is
 *   normally delivered once, and a hanging collector cannot delay exit for
 *   the whole export timeout. We never touch process.exitCode.
 * - SIGTERM/SIGINT/SIGHUP: if the app has its own listener we do nothing (its
 *   handler decides, and its exit path is covered above). If not, we flush
 *   synchronously, remove our listener and re-raise the signal, so the process
 *   still dies by that signal (exit status 128+n, as the parent expects).
 *   signal-exit's listeners do not count as the app's (see exit-signals.ts):
 *   we flush, step aside, and signal-exit runs its callbacks and re-raises
 *   exactly as it does without us.
 * - Uncaught exceptions are recorded through 'uncaughtExceptionMonitor', which
 *   observes without handling (see exit-uncaught.ts).
 */
import type { AgentLog } from './log';
import { onUncaughtException, type OpenSpanTree } from './exit-uncaught';
import { classify, signalExitActsAfter, type SignalListeners } from './exit-signals';

export interface ExitHooks {
  pending(): number;
  flushSync(timeoutMs: number): void;
  summary(): string | undefined;
  /** What listened to a signal when it arrived (for the doctor's report); `handled`: the agent flushes and re-raises (no other listener decides). */
  signalSeen?(sig: string, l: SignalListeners & { handled: boolean }): void;
  /** This process's open spans: an uncaught exception ends those above the active span. */
  openSpans?: OpenSpanTree;
  /** Asynchronous delivery, for when the synchronous path cannot start (no worker threads). */
  flush?(): Promise<void>;
  /** The process lived on after a signal (a signal-exit v4 callback kept it): take spans again. */
  reopen?(): void;
}

/** Under `node --permission` without `--allow-worker` the exit-time sender cannot start. */
function workersAllowed(): boolean {
  try {
    const p = (process as { permission?: { has(scope: string): boolean } }).permission;
    return !p || p.has('worker');
  } catch {
    return true;
  }
}

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

export function installExitHandling(hooks: ExitHooks, timeoutMs: number, log: AgentLog): void {
  let exited = false;

  let summarized = false;
  const finalFlush = (): void => {
    if (exited) return;
    exited = true;
    // Creating the sender's Worker fires the app's async_hooks; a hook that
    // calls process.exit() there would end the process from inside this
    // listener (skipping the app's own 'exit' listeners). In bare node that
    // call never happens, so while we flush it does nothing.
    const exit = process.exit;
    process.exit = function exitDuringFlush() {} as typeof process.exit;
    try {
      if (hooks.pending() > 0) hooks.flushSync(timeoutMs);
    } catch (e) {
      log.debug(`final flush failed: ${String(e)}`);
    } finally {
      process.exit = exit;
    }
    if (summarized) return;
    summarized = true;
    const s = hooks.summary();
    if (s) log.info(s);
  };

  // Without worker threads only the asynchronous path delivers: when the loop
  // drains, flush while a timer (bounded by the flush timeout) keeps the loop
  // alive. The app's own 'beforeExit' listeners then run once more, as when
  // any listener schedules work.
  const workers = workersAllowed();
  const flushAsync = (then: () => void): void => {
    let called = false;
    const done = (): void => {
      clearTimeout(keep);
      if (called) return;
      called = true;
      then();
    };
    const keep = setTimeout(done, timeoutMs); // ref'd on purpose: the bound on this one flush
    (hooks.flush?.() ?? Promise.resolve()).then(done, done);
  };
  if (!workers && hooks.flush) {
    process.on('beforeExit', () => {
      if (!exited && hooks.pending() > 0) flushAsync(() => undefined);
    });
  }

  process.on('exit', finalFlush);

  process.on('uncaughtExceptionMonitor', (err: unknown) => onUncaughtException(err, hooks.openSpans));

  for (const sig of SIGNALS) {
    const onSignal = (): void => {
      const l = classify(sig, onSignal);
      try {
        // Before anything is flushed, so the report the final flush writes already has it.
        hooks.signalSeen?.(sig, { signalExitV3: l.signalExitV3, signalExitV4: l.signalExitV4, others: l.others, handled: l.others === 0 });
      } catch {
        // the report is optional
      }
      if (l.others > 0) return; // the app decides what this signal means
      process.removeListener(sig, onSignal);
      const beside = l.signalExitV3 + l.signalExitV4 > 0;
      // Alone: re-raise and die by it. Beside signal-exit: let its listener
      // still to run in this emit act, or re-raise so it finds itself alone.
      const selfRaise = !beside || !signalExitActsAfter(l.all, onSignal, l);
      if (!workers && !beside && hooks.flush && hooks.pending() > 0) {
        // Nothing synchronous can deliver: flush, then die by the signal.
        flushAsync(() => {
          finalFlush();
          process.kill(process.pid, sig);
        });
        return;
      }
      finalFlush();
      if (selfRaise) process.kill(process.pid, sig);
      else if (l.signalExitV4 > 0) {
        // A v4 callback returning true keeps the process alive, and v4 has
        // then removed its own listeners: be there for the next signal. (If
        // v4 re-raised instead, that delivery finds us alone and we re-raise.)
        setImmediate(() => {
          if (process.listeners(sig).includes(onSignal)) return;
          exited = false;
          hooks.reopen?.();
          process.on(sig, onSignal);
        }).unref();
      }
    };
    process.on(sig, onSignal);
  }
}
