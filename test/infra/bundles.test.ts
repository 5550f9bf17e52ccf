import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { STAGES } from '../../infra/config';
import { DnisSyncStack } from '../../infra/stack';

describe('function bundles', () => {
  it('bundles every function with local esbuild and each bundle loads as the Lambda runtime would', async () => {
    // Inside the repository, so the bundles resolve the AWS SDK from node_modules as Lambda's runtime provides it.
    const outdir = mkdtempSync(join(process.cwd(), 'cdk.out-test-'));
    try {
      const app = new App({ outdir });
      new DnisSyncStack(app, 'Bundled', { config: STAGES.dev, env: { account: '123456789012', region: 'us-east-1' } });
      app.synth();
      const bundles = readdirSync(outdir)
        .filter((entry) => entry.startsWith('asset.'))
        .map((entry) => join(outdir, entry, 'index.mjs'))
        .filter((file) => existsSync(file));
      expect(bundles).toHaveLength(6);
      for (const bundle of bundles) {
        const module = (await import(bundle)) as { handler?: unknown };
        expect(typeof module.handler, bundle).toBe('function');
        expect(existsSync(`${bundle}.map`), 'source map').toBe(true);
      }
    } finally {
      const { rmSync } = await import('node:fs');
      rmSync(outdir, { recursive: true, force: true });
    }
    // Six esbuild bundles take about a minute on a busy 2-core machine.
  }, 180_000);
});
