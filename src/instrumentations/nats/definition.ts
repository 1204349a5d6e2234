/** NATS (nats.js 2.x and the @nats-io 3.x packages): own instrumentation; context in the message headers. */
import type { Definition } from '../definition';

export const nats: Definition = {
  name: 'nats',
  triggers: ['nats', '@nats-io/transport-node', '@nats-io/jetstream'],
  esm: ['nats', '@nats-io/transport-node', '@nats-io/jetstream'],
  source: { own: 'instrumentation.ts', export: 'NatsInstrumentation' },
  create: ({ cfg }, kit) =>
    kit.one('nats', 'NatsInstrumentation', { parentBased: cfg.sampler.name.startsWith('parentbased'), metrics: cfg.metricsExporters.length > 0 }),
  docs: {
    module: '`nats`, `@nats-io/transport-node`, `@nats-io/jetstream`',
    versions: 'this agent: `nats` 2.x, `@nats-io/*` 3.x',
    spans: 'PRODUCER `publish <subject>`, CLIENT `request <subject>`, CONSUMER `process <subject>`',
    page: 'messaging.md',
  },
};
