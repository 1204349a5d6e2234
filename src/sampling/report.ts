/**
 * What sampling decided, in words: the sampling rules' counts (rules.ts) and local tail
 * mode's (tail.ts). The exit summary says it once at info; at OTEL_LOG_LEVEL=debug it is
 * also said while the app runs, so a rule that drops too much shows before the process ends:
 * shortly after the first decisions, then at most once a minute and only when a count moved.
 */
import type { Sampler } from '@opentelemetry/sdk-trace';
import type { AgentLog } from '../log';
import { RuleSampler } from './rules';
import type { TailProcessor } from './tail';

/** How often the counts are compared (a few additions), and the least time between two debug lines. */
const CHECK_MS = 1000;
const EVERY_MS = 60_000;

export class SamplingReport {
  private readonly rules: RuleSampler | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    sampler: Sampler | undefined,
    private readonly tail: TailProcessor | undefined,
  ) {
    this.rules = sampler instanceof RuleSampler ? sampler : undefined;
  }

  /** `sampling rules: ...; tail sampling: ...`, or undefined when nothing was decided by either. */
  text(): string | undefined {
    return [this.rules?.counts(), this.tail?.summary()].filter(Boolean).join('; ') || undefined;
  }

  /** A number that changes whenever any count does. */
  private total(): number {
    const t = this.tail?.counts;
    return (this.rules?.decided() ?? 0) + (t ? t.recorded + t.exportedSpans + t.overTrace + t.overTotal : 0);
  }

  /** At debug only: the running counts, as described above. Nothing is scheduled otherwise. */
  startDebug(log: AgentLog, everyMs = EVERY_MS): void {
    if ((!this.rules && !this.tail) || !log.enabled('debug') || this.timer) return;
    let said = 0;
    let saidAt = -Infinity;
    this.timer = setInterval(() => {
      const n = this.total();
      if (n === said || Date.now() - saidAt < everyMs) return;
      const text = this.text();
      if (!text) return;
      said = n;
      saidAt = Date.now();
      log.debug(`so far: ${text}`);
    }, CHECK_MS);
    // Never keeps the app alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
