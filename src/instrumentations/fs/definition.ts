/** fs: upstream instrumentation-fs with private, path-free spans (shaping.ts). */
import { builtin, type Definition } from '../definition';

export const fs: Definition = {
  name: 'fs',
  triggers: ['fs', 'fs/promises'],
  esm: builtin('fs', 'fs/promises'),
  source: { upstream: '@opentelemetry/instrumentation-fs', export: 'FsInstrumentation' },
  bundles: ['shaping.ts'],
  // Only inside a traced operation (a script reading its config at startup makes no spans),
  // no spans for existence/metadata checks unless OTEL_AGENT_FS_SPANS=all, no file paths
  // in errors: see shaping.ts.
  create: ({ cfg }, kit) =>
    kit.untraced(() => kit.load<typeof import('./shaping')>('fs-shaping').shapeFs(cfg.agent.fsSpans, (config) => kit.one('fs', 'FsInstrumentation', config))),
  docs: {
    module: '`fs`, `fs/promises`',
    versions: 'Node built-ins: every supported Node version',
    spans: 'INTERNAL `fs readFile`, only inside a traced operation',
    page: 'architecture.md',
  },
};
