/**
 * Span timestamps: one `performance.now()` reading per start and end, turned
 * into the HrTime the exporters read only when they read it, with the
 * wall-clock offset kept in step with Date.now().
 */
import type { HrTime, TimeInput } from '@opentelemetry/api';

/**
 * Wall-clock time as `performance.now()` plus an offset. `sec` is a whole
 * number of seconds and `ms` the rest of the offset in milliseconds, so
 * `ms + performance.now()` stays a small number that keeps nanosecond
 * precision (an epoch in milliseconds as one double only resolves ~0.2 µs).
 */
export class Clock {
  constructor(
    readonly sec: number,
    readonly ms: number,
  ) {}

  /** HrTime of a `performance.now()` reading. */
  hr(perf: number): HrTime {
    const t = this.ms + perf;
    const s = Math.floor(t / 1000);
    let ns = Math.round((t - s * 1000) * 1e6);
    let sec = this.sec + s;
    if (ns >= 1e9) {
      ns -= 1e9;
      sec += 1;
    }
    return [sec, ns];
  }

  /** Milliseconds since the epoch of a `performance.now()` reading (0.2 µs precision). */
  epochMs(perf: number): number {
    return this.sec * 1000 + this.ms + perf;
  }
}

function clockAt(epochMs: number, perf: number): Clock {
  const offset = epochMs - perf;
  const sec = Math.floor(offset / 1000);
  return new Clock(sec, offset - sec * 1000);
}

// performance.timeOrigin is the wall clock at process start with microsecond precision.
// Exported as a live binding: now() replaces it when the wall clock drifts, and a span
// keeps the one that was current when it started.
export let clock = clockAt(performance.timeOrigin, 0);
let nextClockCheck = 0;

/**
 * `performance.now()`, with the wall-clock offset re-checked at most once a
 * second. Date.now() floors to the millisecond, so the true wall time is in
 * [wall, wall + 1); a little more slack keeps the two reads' gap from
 * flapping the offset. A correction applies to spans started afterwards.
 */
export function now(): number {
  const p = performance.now();
  if (p >= nextClockCheck) {
    nextClockCheck = p + 1000;
    const wall = Date.now();
    const est = clock.epochMs(p);
    if (est < wall - 1 || est > wall + 2) clock = clockAt(wall + 0.5, p);
  }
  return p;
}

/** Epoch milliseconds to HrTime. */
export function msToHr(ms: number): HrTime {
  const sec = Math.floor(ms / 1000);
  let ns = Math.round((ms - sec * 1000) * 1e6);
  let s = sec;
  if (ns >= 1e9) {
    ns -= 1e9;
    s += 1;
  }
  return [s, ns];
}

export function isHrTime(v: unknown): v is HrTime {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number';
}

export function isTimeInput(v: unknown): v is TimeInput {
  return typeof v === 'number' || v instanceof Date || isHrTime(v);
}

export function hrBefore(a: HrTime, b: HrTime): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

export function hrDiff(start: HrTime, end: HrTime): HrTime {
  let s = end[0] - start[0];
  let ns = end[1] - start[1];
  if (ns < 0) {
    s -= 1;
    ns += 1e9;
  }
  return [s, ns];
}

/** Epoch milliseconds, a Date or an HrTime as HrTime; undefined for anything else. */
export function toHr(t: TimeInput): HrTime | undefined {
  if (typeof t === 'number') return msToHr(t);
  if (t instanceof Date) return msToHr(t.getTime());
  if (isHrTime(t)) return t;
  return undefined;
}
