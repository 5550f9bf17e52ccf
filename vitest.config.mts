import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The twin's runs (separate worker processes, real deadlines, the chaos run) measure time:
    // `npm test` runs them after the rest (`npm run test:twin`, two files at a time), so the
    // other suites' load does not stand in for RingCX being slow. `npm run test:chaos` is the
    // 5,000-row run.
    exclude: process.env.TWIN_PROOF ? ['**/node_modules/**'] : ['**/node_modules/**', 'test/integration/twin/**', 'test/chaos/**'],
    globalSetup: ['test/globalSetup.ts'],
    setupFiles: ['test/logCapture.ts'],
    // Integration suites start real servers (DynamoDB Local is a JVM); give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_DEV: 'false',
      // Everything is logged, so the secret scan sees everything; test/logCapture.ts keeps
      // INFO and DEBUG lines out of the terminal.
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
    },
  },
});
