import { join } from 'node:path';
import { aws_lambda_nodejs as nodejs } from 'aws-cdk-lib';

/** The repository root: function entries and the lock file are found from here. */
export const ROOT = join(import.meta.dirname, '..');

/**
 * How every function of the stack is bundled: local esbuild (no Docker), ESM for Node 22, with the
 * pinned, tested AWS SDK inside the bundle instead of the runtime's own copy, so what the tests
 * ran is what runs (test/infra/bundles.test.ts loads bundles without it).
 */
export const FUNCTION_BUNDLING = {
  depsLockFilePath: join(ROOT, 'package-lock.json'),
  projectRoot: ROOT,
  bundling: {
    format: nodejs.OutputFormat.ESM,
    target: 'node22',
    minify: true,
    sourceMap: true,
    forceDockerBundling: false,
    externalModules: [],
    mainFields: ['module', 'main'],
    banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  },
} satisfies Partial<nodejs.NodejsFunctionProps>;
