import { describe, expect, it } from 'vitest';
import { FUNCTION_BUNDLING } from '../../../../infra/bundling';
import { esbuildOptionsFor } from '../../../../local/twin/bundle';

describe('esbuildOptionsFor', () => {
  it("gives esbuild the stack's bundling: ESM for Node 22, minified, source-mapped, nothing external, the require banner", () => {
    expect(esbuildOptionsFor(FUNCTION_BUNDLING.bundling)).toEqual({
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      minify: true,
      sourcemap: true,
      external: [],
      mainFields: ['module', 'main'],
      banner: { js: FUNCTION_BUNDLING.bundling.banner },
    });
  });

  it('refuses a bundling option it does not map, so the twin cannot silently run a different build', () => {
    expect(() => esbuildOptionsFor({ ...FUNCTION_BUNDLING.bundling, define: { 'process.env.X': '"1"' } })).toThrow(/does not map bundling option\(s\) define/);
    expect(() => esbuildOptionsFor({ format: 'iife' })).toThrow(/unknown bundle format iife/);
  });

  it("falls back to NodejsFunction's defaults (CommonJS, no minify, no source map) for options the stack leaves out", () => {
    expect(esbuildOptionsFor({})).toEqual({ bundle: true, platform: 'node', format: 'cjs', minify: false, sourcemap: false, external: [] });
  });
});
