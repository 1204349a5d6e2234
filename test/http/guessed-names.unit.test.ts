import { describe, expect, it } from 'vitest';
import { GuessedNames, GUESSED_NAME_LIMIT } from '../../src/instrumentations/http/guessed-names';
import { serverSpanName } from '../../src/instrumentations/http-naming';

describe('guessed SERVER span names (apps without a router)', () => {
  it('templates ids and keeps names already minted after the limit', () => {
    const g = new GuessedNames(3);
    const name = (m: string, path: string) => g.name(m, serverSpanName(m, path));
    expect(name('GET', '/orders/42')).toBe('GET /orders/:id');
    expect(name('GET', '/a')).toBe('GET /a');
    expect(name('POST', '/b?x=1')).toBe('POST /b');
    // Limit reached: a new guess is the method alone, a known one stays.
    expect(name('GET', '/c')).toBe('GET');
    expect(name('GET', '/orders/7')).toBe('GET /orders/:id');
    expect(g.size).toBe(3);
  });

  it(`mints at most ${GUESSED_NAME_LIMIT} names from 10,000 random slugs`, () => {
    const g = new GuessedNames();
    const names = new Set<string>();
    for (let i = 0; i < 10_000; i++) names.add(g.name('GET', serverSpanName('GET', `/pkg/${Math.random().toString(36).slice(2, 8).replace(/\d/g, 'x')}`)));
    expect(names.size).toBeLessThanOrEqual(GUESSED_NAME_LIMIT + 1);
    expect(names.has('GET')).toBe(true);
  });
});
