/**
 * The app's own queue functions, named in OTEL_AGENT_QUEUE_HOOKS. Not activated
 * by a module load like the others (no triggers, no create): activate.ts loads
 * dist/instr/queue-hooks.cjs once the variable names a target.
 */
import type { Definition } from '../definition';

export const queueHooks: Definition = {
  name: 'queue-hooks',
  triggers: [],
  esm: [],
  source: { own: 'instrumentation.ts', export: 'QueueHooksInstrumentation' },
  docs: {
    module: 'your queue functions (`OTEL_AGENT_QUEUE_HOOKS`)',
    versions: 'any: the functions you name',
    spans: 'PRODUCER / CONSUMER / INTERNAL, named by you',
    page: 'queue-tracing.md',
  },
};
