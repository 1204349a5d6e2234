/**
 * The full route template of a request through Express-style routers
 * (Express 4's own router, the `router` package Express 5 runs on), with no
 * wrapper around any handler and nothing allocated per middleware.
 *
 * What a router knows is local: a route layer knows `/:id`, the layer that
 * mounted its router knows `/users`. The templates are read once, when the
 * app calls use()/route() (tag()), and stored on the layers. At request time
 * only two kinds of layer do anything, through an own `handleRequest` /
 * `handle_request` that shadows the prototype's (enterLayer()):
 *
 * - a layer that mounts a router or a sub-app pushes one small entry
 *   {target, template, up} on the request;
 * - a route layer joins the template of the entry its own router was mounted
 *   by with its path and tells the HTTP SERVER span (setServerRoute).
 *
 * Entries are never popped: an entry is found by the identity of the router
 * that owns the layer (find()), and every entry pushed after a router was
 * entered belongs to its subtree, so the newest one for that router is the
 * live one. A router that exited leaves a stale entry nobody asks for.
 * Plain middleware layers are untouched: no frame, no cost.
 */
import { setServerRoute } from '../http/server-route';

/** The router (Express 4: the router function; router 2: the Router function) whose stack holds the layer. */
export const OWNER = Symbol('@x/otel-agent/express owner');
/** The mount template of a use() layer: `/users`, `` for `/`. */
export const MOUNT = Symbol('@x/otel-agent/express mount');
/** What a mount layer hands requests to: a router, or an app (Express: `mounted_app`). */
export const TARGET = Symbol('@x/otel-agent/express target');
/** A route layer's own path template. */
export const ROUTE = Symbol('@x/otel-agent/express route');
/** The newest mount entry of a request. */
const CHAIN = Symbol('@x/otel-agent/express chain');

/** Where an Express app keeps its router: `_router` (4; its `router` getter throws) or `router` (5). */
export type AppRouterKey = '_router' | 'router';

export interface Entry {
  target: object;
  /** The target is an Express app, whose router is under this key. */
  app: AppRouterKey | undefined;
  template: string;
  up: Entry | undefined;
}

export interface TaggedLayer {
  handle?: unknown;
  name?: string;
  route?: { path?: unknown; stack?: unknown[] } | undefined;
  [OWNER]?: object;
  [MOUNT]?: string;
  [TARGET]?: { target: object; app: AppRouterKey | undefined };
  [ROUTE]?: string;
}

interface Chained {
  [CHAIN]?: Entry;
}

/**
 * A path argument as the app wrote it: a string as is, a RegExp as its
 * literal (`/^\/files\/(.*)$/`), an array as its elements joined by `,`.
 */
export function templateOf(path: unknown): string {
  if (typeof path === 'string') return path;
  if (path instanceof RegExp) return String(path);
  if (Array.isArray(path)) return path.map(templateOf).join(',');
  return String(path);
}

/** A use() path as a prefix: `/` contributes nothing, a trailing slash is dropped. */
export function mountTemplate(path: unknown): string {
  const t = templateOf(path);
  if (t === '/') return '';
  return typeof path === 'string' && t.length > 1 && t.endsWith('/') ? t.slice(0, -1) : t;
}

/** `/users` + `/:id`; a mounted router's `/` route is the mount itself (`/users`, not `/users/`). */
export function joinRoute(prefix: string, route: string): string {
  if (prefix === '') return route;
  return route === '/' ? prefix : prefix + route;
}

/** The path argument of use(), the way Express and router read it (`use(fn)`, `use([fn])`, `use('/x', fn)`). */
export function usePath(first: unknown): unknown {
  if (typeof first === 'function') return '/';
  let arg = first;
  while (Array.isArray(arg) && arg.length !== 0) arg = arg[0];
  return typeof arg === 'function' ? '/' : first;
}

/** A router function (Express 4's or router 2's): something a layer can mount whose own layers we tag. */
export function isRouter(fn: unknown): fn is { stack: unknown[]; handle: unknown } {
  return typeof fn === 'function' && Array.isArray((fn as { stack?: unknown }).stack) && typeof (fn as { handle?: unknown }).handle === 'function';
}

function owns(e: Entry, owner: object): boolean {
  if (e.target === owner) return true;
  return e.app !== undefined && (e.target as Record<AppRouterKey, unknown>)[e.app] === owner;
}

/** The live entry of the router `owner` was mounted by, or undefined at the app's root. */
function find(e: Entry | undefined, owner: object | undefined): Entry | undefined {
  if (owner === undefined) return undefined;
  while (e !== undefined && !owns(e, owner)) e = e.up;
  return e;
}

/** The full template of a route layer for this request (what enterLayer() reported). */
export function routeFor(layer: TaggedLayer, req: object): string | undefined {
  const t = layer[ROUTE];
  if (t === undefined) return undefined;
  const parent = find((req as Chained)[CHAIN], layer[OWNER]);
  return joinRoute(parent ? parent.template : '', t);
}

/** A tagged layer is about to handle `req`: a route reports its template, a mount pushes its entry. */
export function enterLayer(layer: TaggedLayer, req: object): void {
  const r = req as Chained;
  const parent = find(r[CHAIN], layer[OWNER]);
  const prefix = parent ? parent.template : '';
  const route = layer[ROUTE];
  if (route !== undefined) {
    setServerRoute(req, joinRoute(prefix, route));
    return;
  }
  const target = layer[TARGET];
  if (target !== undefined) r[CHAIN] = { target: target.target, app: target.app, template: prefix + (layer[MOUNT] ?? ''), up: parent };
}
