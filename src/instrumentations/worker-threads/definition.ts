/** worker_threads: own instrumentation, trace context into a worker's bootstrap; only with OTEL_AGENT_ENABLE_IN_WORKERS=true. */
import { builtin, type Definition } from '../definition';

export const workerThreads: Definition = {
  name: 'worker-threads',
  triggers: ['worker_threads'],
  esm: builtin('worker_threads'),
  source: { own: 'instrumentation.ts', export: 'WorkerThreadsInstrumentation' },
  // Without the agent in the workers nobody would read the context there.
  create: ({ cfg, parentEnv }, kit) =>
    cfg.agent.enableInWorkers ? kit.untraced(() => kit.one('worker-threads', 'WorkerThreadsInstrumentation', { parentEnv })) : [],
  docs: {
    module: '`worker_threads`',
    versions: 'Node built-ins, with `OTEL_AGENT_ENABLE_IN_WORKERS=true`',
    spans: 'none of its own: a worker started inside a span continues its trace',
    page: 'context-propagation.md',
  },
};
