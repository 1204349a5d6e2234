/** Next.js: nothing patched; the HTTP SERVER span follows the http.route Next.js sets on it. */
import type { Definition } from '../definition';

export const nextjs: Definition = {
  name: 'nextjs',
  triggers: ['next', 'next/'],
  esm: [],
  source: { own: 'instrumentation.ts', export: 'NextInstrumentation' },
  create: (_ctx, kit) => kit.one('nextjs', 'NextInstrumentation', {}),
  docs: {
    module: '`next` (Next.js)',
    versions: 'this agent: 16.x (earlier: path guess)',
    spans: "names the HTTP SERVER span `GET /api/users/[id]` from the route Next.js sets; Next's spans under it",
    page: 'web-frameworks.md',
  },
};
