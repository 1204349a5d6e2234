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
  /** What listened to a signal when it arrived (for the doctor's report). */
  signalSeen?(sig: string, l: SignalListeners & { handled: boolean }): void;
  /** This process's open spans: an uncaught exception ends those above the active span. */
  openSpans?: OpenSpanTree;
}

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

export function installExitHandling(hooks: ExitHooks, timeoutMs: number, log: AgentLog): void {
  let exited = false;

  const finalFlush = (): void => {
    if (exited) return;
    exited = true;
    try {
      if (hooks.pending() > 0) hooks.flushSync(timeoutMs);
    } catch (e) {
      log.debug(`final flush failed: ${String(e)}`);
    }
    const s = hooks.summary();
    if (s) log.info(s);
  };

  process.on('exit', finalFlush);

  process.on('uncaughtExceptionMonitor', (err: unknown) => onUncaughtException(err, hooks.openSpans));

  for (const sig of SIGNALS) {
    const onSignal = (): void => {
      const l = classify(sig, onSignal);
      try {
        hooks.signalSeen?.(sig, { signalExitV3: l.signalExitV3, signalExitV4: l.signalExitV4, others: l.others, handled: true });
      } catch {
        // the report is optional
      }
      if (l.others > 0) return; // the app decides what this signal means
      process.removeListener(sig, onSignal);
      finalFlush();
      // Alone: re-raise and die by it. Beside signal-exit: let its listener
      // still to run in this emit act, or re-raise so it finds itself alone.
      if (l.signalExitV3 + l.signalExitV4 === 0 || !signalExitActsAfter(l.all, onSignal, l)) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}
