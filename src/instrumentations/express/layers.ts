/**
 * Tagging the layers of an Express-style router when the app builds it, and
 * the few functions that run at request time (see routes.ts for the why).
 *
 * Two router flavours share the logic and differ in method names: Express 4's
 * own router (`handle_request` / `handle_error`) and the `router` package
 * Express 5 runs on (`handleRequest` / `handleError`).
 */
import { setServerError } from '../http/server-route';
import { enterLayer, isRouter, mountTemplate, OWNER, MOUNT, ROUTE, TARGET, templateOf, usePath, type AppRouterKey, type TaggedLayer } from './routes';
import type { WebSpans } from './web-spans';

export interface Flavour {
  request: 'handle_request' | 'handleRequest';
  error: 'handle_error' | 'handleError';
}
export const EXPRESS4: Flavour = { request: 'handle_request', error: 'handle_error' };
export const ROUTER2: Flavour = { request: 'handleRequest', error: 'handleError' };

type LayerFn = (this: TaggedLayer, ...args: unknown[]) => unknown;
type Proto = Record<string, LayerFn>;

/** What the request-time functions read: whether to act at all, and the optional INTERNAL spans. */
export interface LayerState {
  enabled(): boolean;
  fail(where: string, e: unknown): void;
  spans: WebSpans | undefined;
}

const PATCHED = Symbol('@x/otel-agent/express layer proto');

export class Layers {
  /** The own `handleRequest` of mount and route layers: enterLayer(), then the prototype's. */
  private readonly enter: LayerFn;

  constructor(
    private readonly flavour: Flavour,
    private readonly state: LayerState,
  ) {
    const name = flavour.request;
    const spans = state.spans;
    // One function for every tagged layer (it reads the layer from `this`): no closure per layer or request.
    this.enter = function handleRequest(this: TaggedLayer, req: unknown, res: unknown, next: unknown) {
      if (state.enabled() && req !== null && typeof req === 'object') {
        try {
          enterLayer(this, req);
          if (spans !== undefined && this.route !== undefined) spans.handlers(this.route, name);
        } catch (e) {
          state.fail(`${name}`, e);
        }
      }
      return (Object.getPrototypeOf(this) as Proto)[name]!.call(this, req, res, next);
    };
  }

  /** After router.use(...args) appended layers from index `from`: tag them. */
  afterUse(router: object, args: ArrayLike<unknown>, from: number): void {
    const stack = (router as { stack?: TaggedLayer[] }).stack;
    if (!Array.isArray(stack)) return;
    const mount = mountTemplate(usePath(args[0]));
    for (let i = from; i < stack.length; i++) {
      const layer = stack[i]!;
      if (layer === null || typeof layer !== 'object' || layer[OWNER] !== undefined) continue;
      this.patchProto(layer);
      layer[OWNER] = router;
      layer[MOUNT] = mount;
      if (isRouter(layer.handle)) this.mount(layer, layer.handle, undefined);
      else if (this.state.spans?.all && typeof layer.handle === 'function' && layer.handle.length < 4) this.state.spans.middleware(layer, this.flavour.request);
    }
  }

  /** A sub-app mounted with app.use(path, app): Express hands it a `mounted_app` layer, which is a mount of that app. */
  mountApp(layer: TaggedLayer, app: object): void {
    if (layer[TARGET] === undefined) this.mount(layer, app, this.flavour === EXPRESS4 ? '_router' : 'router');
  }

  /** After router.route(path) returned `route`: tag its layer (the router's last). */
  afterRoute(router: object, route: unknown): void {
    const stack = (router as { stack?: TaggedLayer[] }).stack;
    const layer = Array.isArray(stack) ? stack[stack.length - 1] : undefined;
    if (layer === undefined || layer === null || layer.route !== route || route === null || typeof route !== 'object') return;
    this.patchProto(layer);
    layer[OWNER] = router;
    layer[ROUTE] = templateOf((route as { path?: unknown }).path);
    (layer as unknown as Record<string, unknown>)[this.flavour.request] = this.enter;
  }

  private mount(layer: TaggedLayer, target: object, app: AppRouterKey | undefined): void {
    layer[TARGET] = { target, app };
    (layer as unknown as Record<string, unknown>)[this.flavour.request] = this.enter;
  }

  /**
   * The layer prototype's error path: every layer an error passes (error handlers and the middleware it
   * skips) sees it there first, so the error the app answers with is known before the response ends. Only
   * requests with an error run through this; setServerError keeps the first.
   */
  private patchProto(layer: TaggedLayer): void {
    const proto = Object.getPrototypeOf(layer) as (Proto & { [PATCHED]?: true }) | null;
    if (proto === null || proto[PATCHED]) return;
    const name = this.flavour.error;
    const original = proto[name];
    if (typeof original !== 'function') return;
    proto[PATCHED] = true;
    const state = this.state;
    proto[name] = function handleError(this: TaggedLayer, err: unknown, req: unknown) {
      if (err !== undefined && err !== null && req !== null && typeof req === 'object' && state.enabled()) setServerError(req, err);
      return original.apply(this, arguments as unknown as unknown[]);
    };
  }
}
