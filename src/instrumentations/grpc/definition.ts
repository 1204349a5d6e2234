/** gRPC (@grpc/grpc-js): own instrumentation. */
import type { Definition } from '../definition';

export const grpc: Definition = {
  name: 'grpc',
  triggers: ['@grpc/grpc-js'],
  esm: ['@grpc/grpc-js'],
  source: { own: 'instrumentation.ts', export: 'GrpcInstrumentation' },
  create: (_ctx, kit) => kit.untraced(() => kit.one('grpc', 'GrpcInstrumentation', {})),
  docs: {
    module: '`@grpc/grpc-js`',
    versions: '1.x',
    spans: 'CLIENT and SERVER `package.Service/Method` (unary and streaming)',
    page: 'grpc.md',
  },
};
