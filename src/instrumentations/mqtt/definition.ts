/** MQTT.js 5: own instrumentation; MQTT 5 carries the context in user properties, 3.1.1 cannot. */
import type { Definition } from '../definition';

export const mqtt: Definition = {
  name: 'mqtt',
  triggers: ['mqtt'],
  esm: ['mqtt'],
  source: { own: 'instrumentation.ts', export: 'MqttInstrumentation' },
  create: ({ cfg }, kit) =>
    kit.one('mqtt', 'MqttInstrumentation', { parentBased: cfg.sampler.name.startsWith('parentbased'), metrics: cfg.metricsExporters.length > 0 }),
  docs: {
    module: '`mqtt`',
    versions: 'this agent: 5.x',
    spans: 'PRODUCER `publish <topic>`, CONSUMER `process <topic>`',
    page: 'messaging.md',
  },
};
