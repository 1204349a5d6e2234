/** gRPC (@grpc/grpc-js): own instrumentation. */
import type { Definition } from '../definition';
import type { GrpcConfig } from './instrumentation';

export const grpc: Definition = {
  name: 'grpc',
  triggers: ['@grpc/grpc-js'],
  esm: ['@grpc/grpc-js'],
  source: { own: 'instrumentation.ts', export: 'GrpcInstrumentation' },
  create: ({ cfg }, kit) => kit.untraced(() => kit.one<GrpcConfig>('grpc', 'GrpcInstrumentation', { metrics: cfg.metricsExporters.length > 0 })),
  docs: {
    module: '`@grpc/grpc-js`',
    versions: '1.x',
    spans: 'CLIENT and SERVER `package.Service/Method` (unary and streaming)',
    page: 'grpc.md',
  },
};
