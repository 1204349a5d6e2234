/** node:http2 server and client: own instrumentation. */
import { builtin, type Definition } from '../definition';
import type { Http2Config } from './instrumentation';

const lower = (s: string): string => s.toLowerCase();

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
        },
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
