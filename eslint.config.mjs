// Lint for the agent's TypeScript (run by `npm run lint` and .ci/run).
// Type-aware where it matters for an agent: a floating promise in the agent is
// an unhandled rejection in the host app. Only src/config/index.ts may read process.env,
// so every setting goes through the one typed, validated config.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NODE_GLOBALS = Object.fromEntries(
  [
    'process',
    'console',
    'require',
    'module',
    'exports',
    '__dirname',
    '__filename',
    'Buffer',
    'URL',
    'URLSearchParams',
    'fetch',
    'AbortController',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'performance',
    'structuredClone',
    'TextEncoder',
    'TextDecoder',
    'globalThis',
    'Response',
    'Request',
    'Headers',
    'AbortSignal',
    'crypto',
  ].map((g) => [g, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.node/**', '.cache/**', 'bench/out/**', 'coverage/**', '.dist-*/**', '.bundles-*/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain JS (scripts, bench, examples) runs on Node: its globals, CommonJS or ESM.
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    languageOptions: { globals: NODE_GLOBALS },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    rules: {
      // Patches keep the patched object's `this` and forward `arguments` untouched:
      // a rest parameter would change the wrapped function's length and cost an array per call.
      '@typescript-eslint/no-this-alias': 'off',
      'prefer-rest-params': 'off',
    },
  },
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // Expected console output is matched with its spaces as printed: easier to read than {2}.
    files: ['test/**/*.ts'],
    rules: { 'no-regex-spaces': 'off' },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config/index.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Only src/config/index.ts reads process.env: add the variable to src/config/spec.ts.' },
      ],
    },
  },
);
