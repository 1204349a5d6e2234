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
        captureHeaders: { request: cfg.http.captureClientRequestHeaders.map(lower), response: cfg.http.captureClientResponseHeaders.map(lower) },
        metrics: cfg.metricsExporters.length > 0,
        startAttributes: cfg.sampling.rules.some((r) => r.attributes !== undefined),
      }),
    ),
  docs: {
    module: 'global `fetch`, `undici`',
    versions: 'undici 6, 7 (Node 22, 24 `fetch`); the `undici` package (8.x tested)',
    spans: 'CLIENT `GET http://host/path`',
    page: 'http.md',
  },
};
