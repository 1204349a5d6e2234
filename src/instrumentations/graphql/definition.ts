/** graphql-js: own instrumentation; one span per operation, literals hidden. */
import type { Definition } from '../definition';
import type { GraphqlConfig } from './instrumentation';

export const graphql: Definition = {
  name: 'graphql',
  triggers: ['graphql'],
  esm: [],
  source: { own: 'instrumentation.ts', export: 'GraphqlInstrumentation' },
  create: ({ cfg }, kit) => kit.one<GraphqlConfig>('graphql', 'GraphqlInstrumentation', { resolverSpans: cfg.agent.graphqlResolverSpans }),
  docs: {
    module: '`graphql` (graphql-js)',
    versions: 'this agent: 15.x, 16.x, 17.x',
    spans: 'INTERNAL `query GetUser` per operation (resolvers: `Query.user`, when switched on)',
    page: 'graphql.md',
  },
};
