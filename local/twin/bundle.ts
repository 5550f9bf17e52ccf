/**
 * What the stack deploys, built for the twin: each function's esbuild bundle, with the options
 * infra/bundling.ts gives CDK, so an environment's cold start is Node starting and importing one
 * file, as on Lambda, and not tsx transpiling the sources module by module.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * Outside the repository, as /var/task is on Lambda: the banner's `require` resolves from the
 * bundle's folder, and a node_modules above it would hide a module the bundle failed to include.
 */
const BUNDLES_ROOT = join(tmpdir(), 'dnis-sync-twin-bundles');
/** Leftovers of processes that died without cleaning up are removed once this old. */
const STALE_AFTER_MS = 10 * 60_000;

/** The keys of infra/bundling.ts's `bundling` that the twin maps; any other key is a difference it would miss. */
type CdkBundling = {
  format?: string;
  target?: string;
  minify?: boolean;
  sourceMap?: boolean;
  forceDockerBundling?: boolean;
  externalModules?: string[];
  mainFields?: string[];
  banner?: string;
};
const MAPPED_KEYS = new Set(['format', 'target', 'minify', 'sourceMap', 'forceDockerBundling', 'externalModules', 'mainFields', 'banner']);

/**
 * esbuild's options for CDK's NodejsFunction `bundling` props, as CDK passes them on its esbuild
 * command line (bundle, platform node, one output file). Throws on a prop it does not know, so a
 * change to the stack's bundling cannot leave the twin running something else.
 */
export function esbuildOptionsFor(bundling: CdkBundling & Record<string, unknown>): BuildOptions {
  const unmapped = Object.keys(bundling).filter((key) => !MAPPED_KEYS.has(key));
  if (unmapped.length > 0) throw new Error(`the twin does not map bundling option(s) ${unmapped.join(', ')} to esbuild: add them in local/twin/bundle.ts`);
  if (bundling.format !== undefined && bundling.format !== 'esm' && bundling.format !== 'cjs') throw new Error(`unknown bundle format ${bundling.format}`);
  // forceDockerBundling only says where CDK runs esbuild; the twin always runs it here.
  return {
    bundle: true,
    platform: 'node',
    format: bundling.format ?? 'cjs',
    ...(bundling.target !== undefined ? { target: bundling.target } : {}),
    minify: bundling.minify ?? false,
    sourcemap: bundling.sourceMap ?? false,
    external: bundling.externalModules ?? [],
    ...(bundling.mainFields !== undefined ? { mainFields: bundling.mainFields } : {}),
    ...(bundling.banner !== undefined ? { banner: { js: bundling.banner } } : {}),
  };
}

let stackOptions: Promise<BuildOptions> | undefined;
/**
 * Read from the stack's own definition, so there is one source of truth. It loads aws-cdk-lib
 * (about 0.5–0.8 s and 25 MB once per process), paid with the first build, at "deploy".
 */
const optionsOfTheStack = (): Promise<BuildOptions> => {
  stackOptions ??= import('../../infra/bundling').then(({ FUNCTION_BUNDLING }) => esbuildOptionsFor(FUNCTION_BUNDLING.bundling));
  return stackOptions;
};

let processDir: string | undefined;
/**
 * This process's own folder: no other process writes into it, so nobody reads a half-written
 * bundle, and it goes when the process exits (a SIGKILLed process's folder is pruned later).
 */
function outputDir(): string {
  if (processDir) return processDir;
  mkdirSync(BUNDLES_ROOT, { recursive: true });
  pruneLeftovers();
  processDir = join(BUNDLES_ROOT, `${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(processDir);
  const dir = processDir;
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function pruneLeftovers(): void {
  for (const name of readdirSync(BUNDLES_ROOT)) {
    const pid = Number(name.split('-')[0]);
    const path = join(BUNDLES_ROOT, name);
    try {
      if (!Number.isInteger(pid) || isAlive(pid) || Date.now() - statSync(path).mtimeMs < STALE_AFTER_MS) continue;
      rmSync(path, { recursive: true, force: true });
    } catch {
      // Another process pruned it first.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const builds = new Map<string, Promise<string>>();

/**
 * Builds `entry` (a TypeScript module) as the stack bundles a function and resolves with the path
 * of the .mjs, its source map beside it. Once per entry per process: concurrent callers share the
 * build. Not cached across processes: what a bundle contains is only known once it is built.
 */
export function bundleFunction(entry: string): Promise<string> {
  const existing = builds.get(entry);
  if (existing) return existing;
  const built = (async () => {
    const options = await optionsOfTheStack();
    // As CDK names it: the asset folder holds index.mjs (or index.js) and its map.
    const name = relative(REPO_ROOT, entry).replace(/\.[cm]?[jt]s$/, '').replace(/[^\w]+/g, '-');
    const outfile = join(outputDir(), name, options.format === 'esm' ? 'index.mjs' : 'index.js');
    await build({ ...options, entryPoints: [entry], outfile, logLevel: 'error' });
    if (!existsSync(outfile)) throw new Error(`esbuild wrote no ${outfile}`);
    return outfile;
  })();
  builds.set(entry, built);
  // A failed build is not remembered: the next caller tries again.
  built.catch(() => builds.delete(entry));
  return built;
}
