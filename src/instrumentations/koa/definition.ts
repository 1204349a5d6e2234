/** Koa 2 and 3 with @koa/router or koa-router: own instrumentation. */
import type { Definition } from '../definition';
import type { KoaConfig } from './instrumentation';

export const koa: Definition = {
  name: 'koa',
  triggers: ['koa', '@koa/router', 'koa-router'],
  esm: ['koa', '@koa/router', 'koa-router'],
  source: { own: 'instrumentation.ts', export: 'KoaInstrumentation' },
  create: ({ cfg }, kit) => kit.one<KoaConfig>('koa', 'KoaInstrumentation', { webSpans: cfg.agent.webSpans }),
  docs: {
    module: '`koa`, `@koa/router`, `koa-router`',
    versions: 'this agent: koa 2.x, 3.x; @koa/router 12 to 15; koa-router 12 to 14',
    spans: 'names the HTTP SERVER span `GET /users/:id` (`http.route`); INTERNAL `request handler - /users/:id` with OTEL_AGENT_WEB_SPANS',
    page: 'web-frameworks.md',
  },
};
