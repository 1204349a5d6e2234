/** Global fetch and undici: upstream instrumentation-undici, with this agent's span names and error.type. */
import type { Definition } from '../definition';

export const undici: Definition = {
  name: 'undici',
  triggers: ['undici'],
  esm: ['undici'],
  source: { upstream: '@opentelemetry/instrumentation-undici', export: 'UndiciInstrumentation' },
  create: ({ cfg }, kit) =>
    kit.untraced(() => {
      // Lazy: the hooks need the HTTP naming helpers, which the thin entry must not load.
      const hooks = require('./hooks') as typeof import('./hooks');
      const list = kit.one('undici', 'UndiciInstrumentation', hooks.undiciConfig(cfg));
      hooks.preciseFetchErrors(list[0]);
      return list;
    }),
  docs: {
    module: 'global `fetch`, `undici`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'CLIENT `GET http://host/path`',
    page: 'http.md',
  },
};
