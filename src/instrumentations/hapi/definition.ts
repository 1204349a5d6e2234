/** Hapi 21: own instrumentation of @hapi/hapi's request lifecycle. */
import type { Definition } from '../definition';
import type { HapiConfig } from './instrumentation';

export const hapi: Definition = {
  name: 'hapi',
  triggers: ['@hapi/hapi'],
  // No ES module hook: the files patched are required by Hapi itself, however the app loaded it.
  esm: [],
  source: { own: 'instrumentation.ts', export: 'HapiInstrumentation' },
  create: ({ cfg }, kit) => kit.one<HapiConfig>('hapi', 'HapiInstrumentation', { webSpans: cfg.agent.webSpans }),
  docs: {
    module: '`@hapi/hapi`',
    versions: 'this agent: 21.x',
    spans: 'names the HTTP SERVER span `GET /users/{id}` (`http.route`); INTERNAL `request handler - /users/{id}` with OTEL_AGENT_WEB_SPANS',
    page: 'web-frameworks.md',
  },
};
