// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** Node built-ins that an orchestrator must never touch (I/O, clock, randomness, environment). */
const nodeBuiltins = [
  'fs',
  'fs/promises',
  'path',
  'os',
  'http',
  'https',
  'net',
  'dns',
  'crypto',
  'child_process',
  'worker_threads',
  'timers',
  'timers/promises',
  'perf_hooks',
  'process',
  'cluster',
  'tls',
  'dgram',
  'zlib',
  'stream',
  'url',
  'util',
];

export default tseslint.config(
  {
    ignores: [
      'eslint.config.mjs',
      'jest.config.js',
      '**/*.cjs',
      'scripts/**',
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.devhost/**',
      '.azure-package/**',
      'test/fixtures/**',
      'bin/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The determinism rule: orchestrators replay, so they may use only context.df.* and pure functions.
    files: ['orchestrations/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Orchestrators must use context.df.currentUtcDateTime.' },
        {
          object: 'Math',
          property: 'random',
          message: 'Orchestrators must be deterministic: derive ids with context.df.newGuid().',
        },
        {
          object: 'process',
          property: 'env',
          message: 'Orchestrators must not read the environment: pass configuration in the input.',
        },
        {
          object: 'performance',
          property: 'now',
          message: 'Orchestrators must use context.df.currentUtcDateTime.',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'new Date() is not replay-safe: use context.df.currentUtcDateTime.',
        },
        {
          selector: "CallExpression[callee.name='Date']",
          message: 'Date() is not replay-safe: use context.df.currentUtcDateTime.',
        },
        {
          selector: 'AwaitExpression',
          message: 'Orchestrators are generators: yield durable tasks, never await.',
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Orchestrators must not touch the process.' },
        { name: 'setTimeout', message: 'Use context.df.createTimer().' },
        { name: 'setInterval', message: 'Use context.df.createTimer().' },
        { name: 'setImmediate', message: 'Orchestrators must not schedule work outside context.df.' },
        { name: 'fetch', message: 'I/O belongs in an activity.' },
        { name: 'require', message: 'Use a static import of a pure module.' },
        { name: 'crypto', message: 'Use context.df.newGuid().' },
      ],
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Orchestrators must not do I/O or read the clock.',
          })),
          patterns: [
            { group: ['node:*'], message: 'Orchestrators must not use Node built-ins.' },
            {
              group: ['@azure/*', '!@azure/functions'],
              message: 'Cloud SDKs belong in shared/ adapters called from activities.',
            },
            { group: ['oci-*'], message: 'Cloud SDKs belong in shared/ adapters called from activities.' },
            {
              group: [
                '**/stores/**',
                '**/providers/**',
                '**/witness/**',
                '**/config/**',
                '**/control/**',
                '**/services/**',
                '**/devhost/**',
              ],
              allowTypeImports: true,
              message: 'Adapters and services do I/O: call them from an activity (types may be imported).',
            },
          ],
        },
      ],
    },
  },
  {
    // The domain is pure: rules over state, evidence and time, called by activities and by the simulation.
    files: ['shared/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'shared/domain is pure: no I/O.' })),
          patterns: [
            { group: ['node:*'], message: 'shared/domain is pure: no Node built-ins.' },
            { group: ['@azure/*', 'oci-*', 'durable-functions'], message: 'shared/domain is pure: no SDKs.' },
            {
              group: ['**/stores/**', '**/providers/**', '**/witness/**', '**/services/**', '**/control/**'],
              allowTypeImports: true,
              message: 'shared/domain is pure: it takes state as input, it does not fetch it.',
            },
          ],
        },
      ],
    },
  },
  {
    // The alert parsers are pure too: a body and the cluster documents they are given in, a result out.
    files: ['shared/webhooks/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'shared/webhooks is pure: no I/O.' })),
          patterns: [
            {
              group: ['node:*'],
              message: 'shared/webhooks is pure: no Node built-ins (crypto lives in shared/auth).',
            },
            {
              group: ['@azure/*', 'oci-*', 'durable-functions'],
              message: 'shared/webhooks is pure: no SDKs.',
            },
            {
              group: ['**/stores/**', '**/providers/**', '**/witness/**', '**/services/**', '**/devhost/**'],
              allowTypeImports: true,
              message: 'shared/webhooks is pure: it is given what it reads.',
            },
          ],
        },
      ],
    },
  },
  {
    // What is deployed never depends on the local host, the simulation or the benchmarks.
    files: ['functions/**/*.ts', 'orchestrations/**/*.ts', 'shared/**/*.ts', 'portal/**/*.ts'],
    ignores: ['orchestrations/**/*.ts', 'shared/domain/**/*.ts', 'shared/webhooks/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/devhost/**', '**/devhost', '**/sim/**', '**/bench/**', 'azurite'],
              message: 'Production code must not import the local host, the simulation or the benchmarks.',
            },
          ],
        },
      ],
    },
  },
  {
    // The agent runs on cluster nodes: it shares only the pure domain, the signing rules and the wire contracts.
    files: ['agent/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '../shared/*',
                '../../shared/*',
                '!../shared/domain',
                '!../shared/auth',
                '!../shared/contracts',
                '!../../shared/domain',
                '!../../shared/auth',
                '!../../shared/contracts',
              ],
              message: 'The agent may import only shared/{domain,auth,contracts}.',
            },
            {
              group: ['**/functions/**', '**/orchestrations/**', '**/devhost/**', '**/sim/**', '**/bench/**'],
              message: 'The agent does not import the control plane or the local host.',
            },
            {
              group: ['@azure/*', 'oci-*', 'durable-functions'],
              message: 'The agent does not use cloud SDKs.',
            },
          ],
        },
      ],
    },
  },
  prettier,
);
