/**
 * The path guess for SERVER spans of apps without a router (http-naming.ts's
 * routeTemplate), bounded: a backend groups spans by name, so a process mints
 * at most GUESSED_NAME_LIMIT distinct guessed names; past that, a request
 * whose guess is new is named by its method alone. A name already minted keeps
 * being used. The guess is a name only: it is never written to http.route.
 */
import { methodForName } from '../http-naming';

/** Documented in docs/http.md ("Span names"). */
export const GUESSED_NAME_LIMIT = 500;

export class GuessedNames {
  private readonly seen = new Set<string>();

  constructor(private readonly limit = GUESSED_NAME_LIMIT) {}

  /**
   * `guess` (serverSpanName's `GET /orders/:id` for `/orders/42`) if it is already minted or the limit
   * allows one more, else `method` alone.
   */
  name(method: string | undefined, guess: string): string {
    if (this.seen.has(guess)) return guess;
    if (this.seen.size >= this.limit) return methodForName(method);
    this.seen.add(guess);
    return guess;
  }

  get size(): number {
    return this.seen.size;
  }
}
