import { describe, expect, it } from 'vitest';
import { GuessedNames, GUESSED_NAME_LIMIT } from '../../src/instrumentations/http/guessed-names';

describe('guessed SERVER span names (apps without a router)', () => {
  it('templates ids and keeps names already minted after the limit', () => {
    const g = new GuessedNames(3);
    expect(g.name('GET', '/orders/42')).toBe('GET /orders/:id');
    expect(g.name('GET', '/a')).toBe('GET /a');
    expect(g.name('POST', '/b?x=1')).toBe('POST /b');
    // Limit reached: a new guess is the method alone, a known one stays.
    expect(g.name('GET', '/c')).toBe('GET');
    expect(g.name('GET', '/orders/7')).toBe('GET /orders/:id');
    expect(g.size).toBe(3);
  });

  it(`mints at most ${GUESSED_NAME_LIMIT} names from 10,000 random slugs`, () => {
    const g = new GuessedNames();
    const names = new Set<string>();
    for (let i = 0; i < 10_000; i++) names.add(g.name('GET', `/pkg/${Math.random().toString(36).slice(2, 8).replace(/\d/g, 'x')}`));
    expect(names.size).toBeLessThanOrEqual(GUESSED_NAME_LIMIT + 1);
    expect(names.has('GET')).toBe(true);
  });
});
