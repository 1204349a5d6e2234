/** NestJS: own instrumentation; Nest's full route and handler errors for the HTTP SERVER span. */
import type { Definition } from '../definition';
import type { NestConfig } from './instrumentation';

export const nestjs: Definition = {
  name: 'nestjs',
  triggers: ['@nestjs/core'],
  esm: ['@nestjs/core'],
  source: { own: 'instrumentation.ts', export: 'NestInstrumentation' },
  create: ({ cfg }, kit) => kit.one<NestConfig>('nestjs', 'NestInstrumentation', { handlerSpans: cfg.agent.webSpans !== 'none' }),
  docs: {
    module: '`@nestjs/core` (Express and Fastify platforms)',
    versions: 'this agent: 10.x, 11.x, 12.x',
    spans: 'names the HTTP SERVER span `GET /api/users/:id`; INTERNAL `UsersController.getUser` with OTEL_AGENT_WEB_SPANS',
    page: 'web-frameworks.md',
  },
};
