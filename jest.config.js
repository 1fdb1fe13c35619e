/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': '@sucrase/jest-plugin' },
  testPathIgnorePatterns: ['/node_modules/', '/fixtures/'],
  // Build dist/ (incrementally) before any test runs: function tests load the app from it.
  globalSetup: '<rootDir>/test/buildBeforeTests.cjs',
  testTimeout: 60000,
  maxWorkers: 2,
};
