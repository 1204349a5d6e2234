/**
 * The consistent-probability-sampling arithmetic against the examples of the
 * OpenTelemetry specification (trace/tracestate-probability-sampling.md, the
 * 1-in-N table at precision 3, 4 and 5; trace/tracestate-handling.md).
 */
import { describe, expect, it } from 'vitest';
import { adjustedCount, otGet, otSet, otUnset, probabilityToThreshold, thresholdToProbability } from '../../src/tracer/threshold';

// [1-in-N, probability, thresholds at precision 3, 4, 5], as printed in the spec.
const TABLE: [string, number, [string, string, string]][] = [
  ['1', 1, ['0', '0', '0']],
  ['2', 0.5, ['8', '8', '8']],
  ['3', 1 / 3, ['aab', 'aaab', 'aaaab']],
  ['4', 0.25, ['c', 'c', 'c']],
  ['5', 0.2, ['ccd', 'cccd', 'ccccd']],
  ['8', 0.125, ['e', 'e', 'e']],
  ['10', 0.1, ['e66', 'e666', 'e6666']],
  ['16', 0.0625, ['f', 'f', 'f']],
  ['100', 0.01, ['fd71', 'fd70a', 'fd70a4']],
  ['1000', 0.001, ['ffbe7', 'ffbe77', 'ffbe76d']],
  ['10000', 0.0001, ['fff972', 'fff9724', 'fff97247']],
  ['100000', 0.00001, ['ffff584', 'ffff583a', 'ffff583a5']],
  ['1000000', 0.000001, ['ffffef4', 'ffffef39', 'ffffef391']],
];

// Exact adjusted counts at precision 4, from the same table.
const ADJUSTED_4: Record<string, number> = {
  '3': 3.00004577706569,
  '5': 5.0000762951094835,
  '10': 9.99938968568813,
  '100': 99.99771123402633,
  '1000': 1000.012874769029,
  '10000': 9999.830725674266,
};

describe('probability -> threshold (th)', () => {
  it.each(TABLE)('1 in %s: the spec table at precision 3, 4 and 5', (_n, p, [p3, p4, p5]) => {
    expect([3, 4, 5].map((k) => probabilityToThreshold(p, k))).toEqual([p3, p4, p5]);
  });

  it('defaults to precision 4: 10% is th:e666, 1% is th:fd70a (the spec example ot=th:fd70a4 is precision 5)', () => {
    expect(probabilityToThreshold(0.1)).toBe('e666');
    expect(probabilityToThreshold(0.01)).toBe('fd70a');
  });

  it('probabilities below 2^-56 get the smallest threshold there is; near 1 rounds to th:0', () => {
    expect(probabilityToThreshold(2 ** -60)).toBe(probabilityToThreshold(2 ** -56));
    expect(probabilityToThreshold(2 ** -56)).toMatch(/^f{12}$/);
    expect(probabilityToThreshold(0.9999999999)).toBe('0');
  });
});

describe('threshold -> probability and adjusted count', () => {
  it('tracestate-handling.md: th:c is 25% (rejection 0xc0000000000000 / 2^56 = 75%), th:0 is 100%', () => {
    expect(thresholdToProbability('c')).toBe(0.25);
    expect(adjustedCount('c')).toBe(4);
    expect(thresholdToProbability('0')).toBe(1);
    expect(adjustedCount('0')).toBe(1);
  });

  it.each(Object.entries(ADJUSTED_4))('1 in %s at precision 4: the exact adjusted count of the table', (n, count) => {
    const p = TABLE.find((r) => r[0] === n)![1];
    expect(adjustedCount(probabilityToThreshold(p, 4))).toBeCloseTo(count, 9);
  });

  it('the spec example: 1% with 5 digits is 0xfd70a400000000 = 71337018784743424 rejected of 2^56', () => {
    expect(BigInt('0x' + probabilityToThreshold(0.01, 5).padEnd(14, '0'))).toBe(71337018784743424n);
  });
});

describe('the ot tracestate entry', () => {
  it('reads, sets and removes sub-keys, keeping the others', () => {
    expect(otGet('th:e666;rv:6e6d1a75832a2f', 'rv')).toBe('6e6d1a75832a2f');
    expect(otGet('p:8;r:62', 'th')).toBeUndefined();
    expect(otSet('p:8;r:62', 'th', 'c')).toBe('th:c;p:8;r:62');
    expect(otSet('th:e666;rv:6e6d1a75832a2f', 'th', 'fd70a')).toBe('th:fd70a;rv:6e6d1a75832a2f');
    expect(otSet(undefined, 'th', '0')).toBe('th:0');
    expect(otUnset('th:e666;rv:6e6d1a75832a2f', 'th')).toBe('rv:6e6d1a75832a2f');
    expect(otUnset('th:e666', 'th')).toBe('');
  });

  it('does not set a value that would make the entry longer than 256 characters', () => {
    expect(otSet(`x:${'a'.repeat(250)}`, 'th', 'e666')).toBeUndefined();
  });
});
