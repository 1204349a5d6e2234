/** node:http2 server and client: own instrumentation. */
import { builtin, type Definition } from '../definition';
import type { AgentConfig } from '../../env';
import type { Http2Config } from './instrumentation';

const lower = (s: string): string => s.toLowerCase();
/** Whether a sampling rule may read attributes on spans of `kind` (a rule without a kind applies to all): only then are start attributes built. */
const readsAttributes = (cfg: AgentConfig, kind: 'server' | 'client'): boolean =>
  cfg.sampling.rules.some((r) => r.attributes !== undefined && (r.kind === undefined || r.kind === kind));

export const http2: Definition = {
  name: 'http2',
  triggers: ['http2'],
  esm: builtin('http2'),
  source: { own: 'instrumentation.ts', export: 'Http2Instrumentation' },
  create: ({ cfg }, kit) =>
    kit.untraced(() =>
      kit.one<Http2Config>('http2', 'Http2Instrumentation', {
        captureHeaders: {
          serverRequest: cfg.http.captureServerRequestHeaders.map(lower),
          serverResponse: cfg.http.captureServerResponseHeaders.map(lower),
          clientRequest: cfg.http.captureClientRequestHeaders.map(lower),
          clientResponse: cfg.http.captureClientResponseHeaders.map(lower),
          serverRoutes: cfg.http.serverRoutes,
          clientRoutes: cfg.http.clientRoutes,
        },
        startAttributes: cfg.sampling.dropProbes || readsAttributes(cfg, 'server'),
        clientStartAttributes: readsAttributes(cfg, 'client'),
        metrics: cfg.metricsExporters.length > 0,
      }),
    ),
  docs: {
    module: '`http2`',
    versions: 'Node built-in: every supported Node version',
    spans: 'SERVER `GET /orders/:id`, CLIENT `GET https://host/orders/:id` (`network.protocol.version` `2`)',
    page: 'http.md',
  },
};
