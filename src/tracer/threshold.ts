/**
 * Consistent probability sampling, the arithmetic (OpenTelemetry
 * specification/trace/tracestate-probability-sampling.md and
 * tracestate-handling.md):
 *
 * - randomness R: the trace id's right-most 56 bits (14 hex digits), or the
 *   `rv` sub-key of the `ot` tracestate entry when it is there;
 * - rejection threshold T = (1 - probability) * 2^56, 56 bits, written in
 *   the `th` sub-key as up to 14 hex digits with trailing zeros removed
 *   (`th:0` is 100%, `th:8` 50%, `th:e666` 10%, `th:fd70a` 1%);
 * - a span is kept when R >= T.
 *
 * Both are compared as 14-digit lower-case hex strings: for equal-length
 * lower-case hex, string order is numeric order (the spec chose the
 * encoding for that), and no 56-bit integer (above 2^53) is ever built on
 * the span path.
 */

/** 2^56, the number of distinct 56-bit values. */
const MAX_ADJUSTED_COUNT = 2 ** 56;
/** The smallest probability there is a threshold for. */
export const MIN_PROBABILITY = 2 ** -56;
/** OpenTelemetry SDKs are recommended to use 4 digits of precision by default. */
export const DEFAULT_PRECISION = 4;

const TH = /^[0-9a-f]{1,14}$/;
const RV = /^[0-9a-f]{14}$/;

export const isThreshold = (th: string): boolean => TH.test(th);
export const isRandomness = (rv: string): boolean => RV.test(rv);

/** A `th` value as the 14 digits it stands for (trailing zeros put back). */
export const threshold14 = (th: string): string => th.padEnd(14, '0');

/** The exponent e of p = m * 2^e with m in [0.5, 1) (C's frexp). */
function frexpExponent(p: number): number {
  let e = Math.floor(Math.log2(p)) + 1;
  // log2 can be one off near powers of two; settle it exactly.
  while (p / 2 ** e >= 1) e++;
  while (p / 2 ** e < 0.5) e--;
  return e;
}

/**
 * The `th` value for a sampling probability, as the spec's reference
 * algorithm computes it: `precision` significant hex digits, more for small
 * probabilities (one more per leading `f`), rounded to nearest, trailing
 * zeros removed. 1 gives `0`; probabilities below 2^-56 are raised to it.
 */
export function probabilityToThreshold(probability: number, precision = DEFAULT_PRECISION): string {
  if (!(probability < 1)) return '0';
  const p = Math.max(probability, MIN_PROBABILITY);
  const digits = Math.max(1, Math.min(12, precision + Math.floor(frexpExponent(p) / -4)));
  // 1 + rejection probability, in [1, 2): its 52 mantissa bits are the threshold's first 13 hex digits.
  // Half of the last kept digit is added so that cutting the digits rounds to nearest.
  const rejection = 2 - p + 0.5 * 2 ** (-4 * digits);
  const mantissa = rejection >= 2 ? 'fffffffffffff' : ((rejection - 1) * 2 ** 52).toString(16).padStart(13, '0');
  return mantissa.slice(0, digits).replace(/0+$/, '') || '0';
}

/** The probability a `th` value stands for: (2^56 - T) / 2^56. */
export function thresholdToProbability(th: string): number {
  const t = Number(BigInt(`0x${threshold14(th)}`));
  return (MAX_ADJUSTED_COUNT - t) / MAX_ADJUSTED_COUNT;
}

/** How many spans a span sampled at this threshold stands for: 2^56 / (2^56 - T). */
export function adjustedCount(th: string): number {
  return 1 / thresholdToProbability(th);
}

/** The value of sub-key `key` in an `ot` tracestate value (`th:e666;rv:...`), if there. */
export function otGet(ot: string, key: string): string | undefined {
  const prefix = key + ':';
  for (const part of ot.split(';')) if (part.startsWith(prefix)) return part.slice(prefix.length);
  return undefined;
}

/** The `ot` value with `key` set to `value` (added first, others kept in order); undefined when it would pass 256 characters. */
export function otSet(ot: string | undefined, key: string, value: string): string | undefined {
  const prefix = key + ':';
  const rest = ot ? ot.split(';').filter((p) => p !== '' && !p.startsWith(prefix)) : [];
  const out = [prefix + value, ...rest].join(';');
  return out.length <= 256 ? out : undefined;
}

/** The `ot` value without `key` ('' when nothing is left). */
export function otUnset(ot: string, key: string): string {
  const prefix = key + ':';
  return ot
    .split(';')
    .filter((p) => p !== '' && !p.startsWith(prefix))
    .join(';');
}
