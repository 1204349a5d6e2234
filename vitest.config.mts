import { defineConfig } from 'vitest/config';

// Two tiers a developer can run apart (both run in `npm test`):
//   unit      in-process tests (*.unit.test.ts): no child process, no server; seconds.
//   fixtures  everything else: real apps in child processes under the agent, against
//             the in-repo OTLP receiver and the local servers.
const UNIT = 'test/**/*.unit.test.ts';

export default defineConfig({
  test: {
    // Fixture tests spawn real processes and talk to real servers: give them room,
    // and run files in parallel only as far as the 2-core machines allow.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'unit', include: [UNIT] } },
      { extends: true, test: { name: 'fixtures', include: ['test/**/*.test.ts'], exclude: [UNIT] } },
    ],
  },
});
