/** Global fetch and undici: own instrumentation, from undici's diagnostics channels. */
import type { Definition } from '../definition';
import type { UndiciConfig } from './instrumentation';

const lower = (s: string): string => s.toLowerCase();

export const undici: Definition = {
  name: 'undici',
  triggers: ['undici'],
  esm: ['undici'],
  source: { own: 'instrumentation.ts', export: 'UndiciInstrumentation' },
  // Own instrumentation (instrumentation.ts): an unsampled call costs a sampling decision and its traceparent.
  create: ({ cfg }, kit) =>
    kit.untraced(() =>
      kit.one<UndiciConfig>('undici', 'UndiciInstrumentation', {
        captureHeaders: {
          clientRequest: cfg.http.captureClientRequestHeaders.map(lower),
          clientResponse: cfg.http.captureClientResponseHeaders.map(lower),
          clientRoutes: cfg.http.clientRoutes,
        },
        metrics: cfg.metricsExporters.length > 0,
        // Only rules that may read a CLIENT span's attributes (a rule without a kind applies to all kinds).
        startAttributes: cfg.sampling.rules.some((r) => r.attributes !== undefined && (r.kind === undefined || r.kind === 'client')),
      }),
    ),
  docs: {
    module: 'global `fetch`, `undici`',
    versions: 'undici 6, 7 (Node 22, 24 `fetch`); the `undici` package (8.x tested)',
    spans: 'CLIENT `GET http://host/path`',
    page: 'http.md',
  },
};
