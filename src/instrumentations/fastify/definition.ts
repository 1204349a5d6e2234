/** Fastify 4 and 5: own instrumentation, through Fastify's diagnostics channels and hooks (nothing patched). */
import type { Definition } from '../definition';
import type { FastifyConfig } from './instrumentation';

export const fastify: Definition = {
  name: 'fastify',
  triggers: ['fastify'],
  esm: ['fastify'],
  source: { own: 'instrumentation.ts', export: 'FastifyInstrumentation' },
  create: ({ cfg }, kit) => kit.one<FastifyConfig>('fastify', 'FastifyInstrumentation', { webSpans: cfg.agent.webSpans }),
  docs: {
    module: '`fastify`',
    versions: 'this agent: 4.x, 5.x',
    spans: 'names the HTTP SERVER span `GET /users/:id` (`http.route`); INTERNAL `request handler - /users/:id` with OTEL_AGENT_WEB_SPANS',
    page: 'web-frameworks.md',
  },
};
