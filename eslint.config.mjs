import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Workflow code is replayed deterministically inside Temporal's sandbox: no Node
// built-ins, no network or file libraries, no clocks or randomness outside the SDK's.
const forbiddenInWorkflows = [
  'node:*',
  ...[
    'fs',
    'fs/promises',
    'path',
    'os',
    'child_process',
    'crypto',
    'http',
    'https',
    'net',
    'dns',
    'tls',
    'stream',
    'url',
    'util',
    'worker_threads',
    'process',
    'timers',
  ],
  '@kubernetes/*',
  '@aws-sdk/*',
  '@smithy/*',
  'axios',
  'node-fetch',
  'undici',
  'yaml',
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
];

const workflowPatterns = [
  {
    group: forbiddenInWorkflows,
    message: 'Workflows must stay deterministic: do I/O in an activity instead.',
  },
  {
    group: ['../activities/*', '../activities', '../rustfs/*', '../kube/*', '../sandbox/*'],
    allowTypeImports: true,
    message: 'Workflows import activities as types only (proxyActivities<...>).',
  },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.test-build/**', 'bin/**', 'scripts/**', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@temporalio/workflow',
              importNames: ['patched', 'deprecatePatch'],
              message:
                "Ask a patch through the run's PatchSet (src/workflows/patches.ts): every patch is decided at the run's start.",
            },
          ],
          patterns: workflowPatterns,
        },
      ],
      'no-restricted-globals': ['error', 'process', 'setInterval', 'fetch', 'require'],
    },
  },
  {
    // The one place a patch is asked of the SDK.
    files: ['src/workflows/patches.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: workflowPatterns }],
    },
  },
);
