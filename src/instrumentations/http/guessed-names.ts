/**
 * The path guess for SERVER spans of apps without a router (http-naming.ts's
 * routeTemplate), bounded: a backend groups spans by name, so a process mints
 * at most GUESSED_NAME_LIMIT distinct guessed names; past that, a request
 * whose guess is new is named by its method alone. A name already minted keeps
 * being used. The guess is a name only: it is never written to http.route.
 */
import { methodForName, serverSpanName } from '../http-naming';

/** Documented in docs/http.md ("Span names"). */
export const GUESSED_NAME_LIMIT = 500;

export class GuessedNames {
  private readonly seen = new Set<string>();

  constructor(private readonly limit = GUESSED_NAME_LIMIT) {}

  /** `GET /orders/:id` for `/orders/42`, or `GET` once the limit is reached and the guess is new. */
  name(method: string | undefined, target: string): string {
    const n = serverSpanName(method, target);
    if (this.seen.has(n)) return n;
    if (this.seen.size >= this.limit) return methodForName(method);
    this.seen.add(n);
    return n;
  }

  get size(): number {
    return this.seen.size;
  }
}
