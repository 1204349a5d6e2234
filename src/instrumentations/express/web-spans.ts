/**
 * OTEL_AGENT_WEB_SPANS=handlers|all: INTERNAL spans for route handlers
 * (`request handler - /users/:id`) and, with `all`, for middleware
 * (`middleware - jsonParser`). Off by default: they are most of what
 * per-middleware instrumentations cost and export.
 *
 * Names and error marking are the shared ones of web/spans.ts (a handler
 * without a route is `request handler`, a failed one gets error.type), so an
 * Express handler span looks like a Fastify, Koa or Hapi one.
 *
 * A layer that gets a span gets an own `handleRequest` at setup. A request
 * whose SERVER span is not sampled goes straight to the prototype's; only a
 * sampled one pays for the span, its context and the `next` that ends it.
 * A span ends at the first of: the layer calling next() (an error there sets
 * status ERROR; the exception itself is recorded once, on the SERVER span),
 * the response finishing, or the connection closing.
 */
import { context, trace, SpanKind, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { serverRoute } from '../http/server-route';
import { failWebSpan, handlerSpanName } from '../web/spans';
import type { TaggedLayer } from './routes';

type LayerFn = (this: TaggedLayer, ...args: unknown[]) => unknown;
type Proto = Record<string, LayerFn>;

const INSTALLED = Symbol('@x/otel-agent/express spans installed');

interface Res {
  once?: (event: string, fn: () => void) => unknown;
}

export class WebSpans {
  private readonly fns = new Map<string, { handler: LayerFn; middleware: LayerFn }>();

  constructor(
    private readonly tracer: () => Tracer,
    readonly all: boolean,
    private readonly enabled: () => boolean,
  ) {}

  /** Gives each handler of `route` its span function, once per handler (routes gain handlers only at setup). */
  handlers(route: { stack?: unknown[] } & { [INSTALLED]?: number }, method: string): void {
    const stack = route.stack;
    if (!Array.isArray(stack) || route[INSTALLED] === stack.length) return;
    route[INSTALLED] = stack.length;
    const fn = this.get(method).handler;
    for (const l of stack) if (l !== null && typeof l === 'object') (l as Record<string, unknown>)[method] = fn;
  }

  middleware(layer: TaggedLayer, method: string): void {
    (layer as unknown as Record<string, unknown>)[method] = this.get(method).middleware;
  }

  private get(method: string): { handler: LayerFn; middleware: LayerFn } {
    let f = this.fns.get(method);
    if (!f) {
      f = { handler: this.make(method, 'request_handler'), middleware: this.make(method, 'middleware') };
      this.fns.set(method, f);
    }
    return f;
  }

  private make(method: string, type: 'request_handler' | 'middleware'): LayerFn {
    const self = this;
    return function handleRequest(this: TaggedLayer, req: unknown, res: unknown, next: unknown) {
      const original = (Object.getPrototypeOf(this) as Proto)[method]!;
      const parent = context.active();
      const server = trace.getSpan(parent);
      if (!self.enabled() || server === undefined || !server.isRecording() || typeof next !== 'function' || req === null || typeof req !== 'object') {
        return original.call(this, req, res, next);
      }
      let span: Span;
      try {
        const route = type === 'request_handler' ? serverRoute(req) : undefined;
        const name = type === 'request_handler' ? handlerSpanName(route) : `middleware - ${this.name || '<anonymous>'}`;
        span = self
          .tracer()
          .startSpan(name, { kind: SpanKind.INTERNAL, attributes: { 'express.type': type, 'express.name': this.name || '<anonymous>' } }, parent);
        if (route !== undefined) span.setAttribute('http.route', route);
      } catch {
        return original.call(this, req, res, next);
      }
      const done = ender(span, parent, next as (...a: unknown[]) => unknown, res as Res);
      return context.with(trace.setSpan(parent, span), original, this, req, res, done);
    };
  }
}

/** The `next` handed to a spanned layer: ends its span, then routing goes on in the request's own context. */
function ender(span: Span, parent: Context, next: (...a: unknown[]) => unknown, res: Res): (...a: unknown[]) => unknown {
  let open = true;
  const end = (err?: unknown): void => {
    if (!open) return;
    open = false;
    // The same status and error.type as every framework's handler spans (web/spans.ts).
    if (err !== undefined && err !== null && err !== 'route' && err !== 'router') failWebSpan(span, err);
    span.end();
  };
  if (typeof res.once === 'function') {
    res.once('finish', end);
    res.once('close', end);
  }
  return function next_(this: unknown, ...args: unknown[]) {
    end(args[0]);
    return context.with(parent, next, this, ...args);
  };
}
