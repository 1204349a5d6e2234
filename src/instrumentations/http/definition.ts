/** HTTP server and client: own instrumentation. */
import { builtin, type Definition } from '../definition';
import type { AgentConfig } from '../../env';
import type { HttpConfig } from './instrumentation';

const lower = (s: string): string => s.toLowerCase();
/** Whether a sampling rule may read attributes on spans of `kind` (a rule without a kind applies to all): only then are start attributes built. */
const readsAttributes = (cfg: AgentConfig, kind: 'server' | 'client'): boolean =>
  cfg.sampling.rules.some((r) => r.attributes !== undefined && (r.kind === undefined || r.kind === kind));

export const http: Definition = {
  name: 'http',
  triggers: ['http', 'https'],
  // An allowHTTP1 http2 server's HTTP/1.1 requests are this instrumentation's (see http2/).
  alsoOn: ['http2'],
  esm: builtin('http', 'https'),
  source: { own: 'instrumentation.ts', export: 'HttpInstrumentation' },
  // Own instrumentation (instrumentation.ts), built for per-request cost.
  create: ({ cfg }, kit) =>
    kit.untraced(() =>
      kit.one<HttpConfig>('http', 'HttpInstrumentation', {
        captureHeaders: {
          serverRequest: cfg.http.captureServerRequestHeaders.map(lower),
          serverResponse: cfg.http.captureServerResponseHeaders.map(lower),
          clientRequest: cfg.http.captureClientRequestHeaders.map(lower),
          clientResponse: cfg.http.captureClientResponseHeaders.map(lower),
          serverRoutes: cfg.http.serverRoutes,
          clientRoutes: cfg.http.clientRoutes,
        },
        metrics: cfg.metricsExporters.length > 0,
        testFault: cfg.agent.testFaults.includes('http-bookkeeping'),
        propagators: cfg.propagators,
        startAttributes: cfg.sampling.dropProbes || readsAttributes(cfg, 'server'),
        clientStartAttributes: readsAttributes(cfg, 'client'),
      }),
    ),
  docs: {
    module: '`http`, `https`',
    versions: 'Node built-ins: every supported Node version',
    spans: 'SERVER `GET /orders/:id`, CLIENT `GET http://host/orders/:id`',
    page: 'http.md',
  },
};
