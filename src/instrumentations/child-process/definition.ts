/** child_process: own instrumentation, trace context into the child's environment (docs/context-propagation.md). */
import { builtin, type Definition } from '../definition';

export const childProcess: Definition = {
  name: 'child-process',
  triggers: ['child_process'],
  esm: builtin('child_process'),
  source: { own: 'instrumentation.ts', export: 'ChildProcessInstrumentation' },
  create: ({ parentEnv }, kit) => kit.untraced(() => kit.one('child-process', 'ChildProcessInstrumentation', { parentEnv })),
  docs: {
    module: '`child_process`',
    versions: 'Node built-ins: every supported Node version',
    spans: 'CLIENT `spawn node`, `exec sh`; `TRACEPARENT`/`TRACESTATE`/`BAGGAGE` in the child',
    page: 'context-propagation.md',
  },
};
