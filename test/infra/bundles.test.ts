import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { STAGES } from '../../infra/config';
import { DnisSyncStack } from '../../infra/stack';
import { RESOURCE_NAMES_FOR_TESTS } from '../helpers/functionEnv';

/** True when some folder from `dir` up to the root has a node_modules a bundle could resolve from. */
function hasNodeModulesAbove(dir: string): boolean {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(join(current, 'node_modules'))) return true;
    if (dirname(current) === current) return false;
  }
}

describe('function bundles', () => {
  it('bundles every function, the pinned AWS SDK included, and each bundle loads with no node_modules around it', async () => {
    const outdir = mkdtempSync(join(process.cwd(), 'cdk.out-test-'));
    // Outside the repository: nothing to resolve `@aws-sdk/*` from but the bundle itself, as on
    // Lambda when the runtime's own SDK is not used.
    const isolated = mkdtempSync(join(tmpdir(), 'dnis-sync-bundles-'));
    // Each bundle validates its config when it loads, as at a cold start; the stack would set these.
    const missing = Object.keys(RESOURCE_NAMES_FOR_TESTS).filter((name) => process.env[name] === undefined);
    Object.assign(process.env, Object.fromEntries(missing.map((name) => [name, RESOURCE_NAMES_FOR_TESTS[name as keyof typeof RESOURCE_NAMES_FOR_TESTS]])));
    try {
      const app = new App({ outdir });
      new DnisSyncStack(app, 'Bundled', { config: STAGES.dev, env: { account: '123456789012', region: 'us-east-1' } });
      app.synth();
      const assets = readdirSync(outdir).filter((entry) => entry.startsWith('asset.') && existsSync(join(outdir, entry, 'index.mjs')));
      expect(assets).toHaveLength(6);
      expect(hasNodeModulesAbove(isolated), `${isolated} must not see a node_modules`).toBe(false);
      for (const asset of assets) {
        const bundle = join(isolated, asset, 'index.mjs');
        cpSync(join(outdir, asset), join(isolated, asset), { recursive: true });
        // The decision under test: the SDK's code is in the bundle (its sources are in the map) and
        // no static import of it is left for the runtime to satisfy.
        const sources = (JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { sources: string[] }).sources;
        const sdkPackages = new Set(sources.flatMap((source) => /node_modules\/(@aws-sdk\/[^/]+)\//.exec(source)?.[1] ?? []));
        expect([...sdkPackages].filter((name) => name.startsWith('@aws-sdk/client-')).length, `${asset} bundles an AWS SDK client`).toBeGreaterThan(0);
        expect(sdkPackages.has('@aws-sdk/credential-provider-node'), `${asset} bundles the credential chain`).toBe(true);
        const staticSdkImport = /(?:^|[;\n])\s*import\s*(?:[\w*{}\s,$]+from\s*)?["']@aws-sdk\//m.test(readFileSync(bundle, 'utf8'));
        expect(staticSdkImport, `${asset} imports @aws-sdk from the runtime`).toBe(false);
        const module = (await import(bundle)) as { handler?: unknown };
        expect(typeof module.handler, asset).toBe('function');
        expect(existsSync(`${bundle}.map`), 'source map').toBe(true);
      }
    } finally {
      for (const name of missing) delete process.env[name];
      rmSync(outdir, { recursive: true, force: true });
      rmSync(isolated, { recursive: true, force: true });
    }
  }, 300_000); // six esbuild bundles and a synth: minutes on a loaded 2-core machine
});
