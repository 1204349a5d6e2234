/** Express 4 and 5, `router` 2, `connect` 3: own instrumentation, names the HTTP SERVER span by the route. */
import type { Definition } from '../definition';
import type { ExpressConfig } from './instrumentation';

export const express: Definition = {
  name: 'express',
  // finalhandler is what these three answer errors with; alone it is no reason to activate.
  triggers: ['express', 'router', 'connect'],
  esm: ['express', 'router', 'connect', 'finalhandler'],
  source: { own: 'instrumentation.ts', export: 'ExpressInstrumentation' },
  create: ({ cfg }, kit) => kit.one<ExpressConfig>('express', 'ExpressInstrumentation', { webSpans: cfg.agent.webSpans }),
  docs: {
    module: '`express`, `router`, `connect`',
    versions: 'this agent: express 4.x and 5.x, router 2.x, connect 3.x',
    spans: 'names the SERVER span `GET /users/:id` (http.route); INTERNAL handler/middleware spans with OTEL_AGENT_WEB_SPANS',
    page: 'web-frameworks.md',
  },
};
