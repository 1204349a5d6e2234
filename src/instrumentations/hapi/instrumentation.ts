/**
 * Hapi 21 (`@hapi/hapi`): the route's path names the HTTP SERVER span, as
 * Hapi spells it (`/users/{id}`, plugin prefixes included), and a 5xx Hapi
 * answered with is recorded on it (server-route.ts).
 *
 * Hapi's request lifecycle lives in its own lib/request.js, required by Hapi
 * itself (so the app's `require` or `import` of `@hapi/hapi` both load it
 * through require): `Request.prototype._postCycle` runs once per request,
 * after routing and the handler and before `onPreResponse` and transmission.
 * The patch reads the route and the response there: a Boom error (a thrown
 * Error becomes a 500 Boom wrapping that very error; `Boom.notFound()` is a
 * 404) is noted, and the HTTP span records it only when the answer is a 5xx.
 * A request no route matched runs on Hapi's `_special` not-found route, which
 * is not a route of the app: no route is told, and the span stays `{method}`.
 *
 * Handler and extension spans (OTEL_AGENT_WEB_SPANS) wrap Hapi's one caller of
 * both, the toolkit's `execute` (lib/toolkit.js), only when switched on.
 */
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  type InstrumentationConfig,
} from '@opentelemetry/instrumentation';
import { context, trace, type Attributes } from '@opentelemetry/api';
import { AGENT_VERSION } from '../../version';
import { setServerError, setServerRoute } from '../http/server-route';
import { failWebSpan, handlerSpanName, recordingParent, startWebSpan, type WebSpansConfig } from '../web/spans';

export const SUPPORTED = ['>=21.0.0 <22'];

export type HapiConfig = InstrumentationConfig & WebSpansConfig;

interface Boomish {
  isBoom?: boolean;
  output?: { statusCode?: number };
}
interface HapiRequest {
  raw?: { req?: object };
  route?: { path?: string; method?: string; settings?: { handler?: unknown } };
  response?: unknown;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (this: any, ...args: any[]) => any;
type Proto = Record<string, AnyFn>;

function noteRequest(request: HapiRequest): void {
  const req = request.raw?.req;
  if (!req) return;
  const route = request.route;
  if (route && route.method !== '_special' && typeof route.path === 'string') setServerRoute(req, route.path);
  const res = request.response as Boomish | undefined;
  if (res && res.isBoom === true) setServerError(req, res);
}

export class HapiInstrumentation extends InstrumentationBase<HapiConfig> {
  constructor(config: HapiConfig = {}) {
    super('@x/otel-agent/hapi', AGENT_VERSION, config);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    const files = [
      new InstrumentationNodeModuleFile(
        '@hapi/hapi/lib/request.js',
        SUPPORTED,
        (exports: { prototype?: Proto }) => {
          this.patchRequest(exports?.prototype);
          return exports;
        },
        (exports: { prototype?: Proto }) => {
          if (exports?.prototype) this._unwrap(exports.prototype, '_postCycle');
        },
      ),
    ];
    if ((this.getConfig().webSpans ?? 'none') !== 'none') {
      files.push(
        new InstrumentationNodeModuleFile(
          '@hapi/hapi/lib/toolkit.js',
          SUPPORTED,
          (exports: { Manager?: { prototype?: Proto } }) => {
            this.patchToolkit(exports?.Manager?.prototype);
            return exports;
          },
          (exports: { Manager?: { prototype?: Proto } }) => {
            if (exports?.Manager?.prototype) this._unwrap(exports.Manager.prototype, 'execute');
          },
        ),
      );
    }
    return [new InstrumentationNodeModuleDefinition('@hapi/hapi', SUPPORTED, undefined, undefined, files)];
  }

  private patchRequest(proto: Proto | undefined): void {
    if (!proto || typeof proto._postCycle !== 'function') {
      this._diag.warn('@hapi/hapi: Request.prototype._postCycle not found; this hapi is not traced');
      return;
    }
    this._wrap(
      proto,
      '_postCycle',
      (orig: AnyFn) =>
        function _postCycle(this: HapiRequest) {
          noteRequest(this);
          return orig.apply(this, arguments as unknown as unknown[]);
        },
    );
  }

  private patchToolkit(proto: Proto | undefined): void {
    if (!proto || typeof proto.execute !== 'function') return;
    const tracer = this.tracer;
    const all = this.getConfig().webSpans === 'all';
    this._wrap(
      proto,
      'execute',
      (orig: AnyFn) =>
        function execute(this: unknown, method: unknown, request: HapiRequest, options: { name?: string } | undefined) {
          const kind = recordingParent() ? spanKind(request, method, options, all) : undefined;
          const span = kind === undefined ? undefined : startWebSpan(tracer, kind.name, kind.attributes);
          if (span === undefined) return orig.apply(this, arguments as unknown as unknown[]);
          let p: unknown;
          try {
            p = context.with(trace.setSpan(context.active(), span), () => orig.apply(this, arguments as unknown as unknown[]));
          } catch (e) {
            failWebSpan(span, e);
            span.end();
            throw e;
          }
          // The toolkit answers a throw with a Boom value rather than a rejection.
          return Promise.resolve(p).then(
            (v) => {
              const b = v as Boomish | undefined;
              if (b?.isBoom && (b.output?.statusCode ?? 500) >= 500) failWebSpan(span, v);
              span.end();
              return v;
            },
            (e: unknown) => {
              failWebSpan(span, e);
              span.end();
              throw e;
            },
          );
        },
    );
  }
}

/** `request handler - <route>` for the route's handler, `ext - <point>` (with `all`) for an extension; undefined: no span. */
function spanKind(
  request: HapiRequest,
  method: unknown,
  options: { name?: string } | undefined,
  all: boolean,
): { name: string; attributes: Attributes } | undefined {
  const route = request?.route;
  if (!route || route.method === '_special') return undefined;
  const attributes: Attributes = typeof route.path === 'string' ? { 'http.route': route.path } : {};
  if (options?.name) {
    if (!all) return undefined;
    attributes['hapi.type'] = 'ext';
    attributes['hapi.name'] = options.name;
    return { name: `ext - ${options.name}`, attributes };
  }
  if (method !== route.settings?.handler) return undefined;
  attributes['hapi.type'] = 'request_handler';
  return { name: handlerSpanName(route.path), attributes };
}
