/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': '@sucrase/jest-plugin' },
  testPathIgnorePatterns: ['/node_modules/', '/fixtures/'],
  testTimeout: 60000,
  maxWorkers: 2,
};
