import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The project's layering, checked on the source itself: every relative import of every .ts file
 * under shared/ and local/ringcx-simulator/ is read with TypeScript's own pre-processor (so
 * `import type`, `export … from` and dynamic `import()` all count).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCANNED = ['shared', 'local/ringcx-simulator'];
const MAX_SHARED_LINES = 320;

/**
 * shared/ bottom to top. A unit is a folder of shared/, or one of its top-level files. An import
 * may stay in its layer or go down, never up. Within a layer (the stages included: the sweeper
 * uses the parser and the worker) imports are allowed as long as the units stay acyclic.
 */
const LAYERS: string[][] = [
  ['contracts', 'domain', 'csv'],
  ['ringcx', 'store', 'aws', 'observability'],
  ['lambda', 'config', 'dependencies'],
  ['jobs'],
  ['parser', 'worker', 'intake', 'exporter', 'tokens', 'sweeper'],
];

/**
 * Known violations being removed. Each entry must still be a violation (a stale entry fails the
 * test), so the list can only shrink.
 */
const PENDING = {
  upwardImports: [] as string[],
  unitCycles: [] as string[],
  longFiles: [] as string[],
};

type Graph = Map<string, Set<string>>;

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

function resolveImport(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate)) return candidate;
  }
  // A relative import of something that is not TypeScript (JSON metadata, say) has no edges to follow.
  return undefined;
}

/** Relative imports between scanned files, as repository-relative paths. */
function importGraph(files: string[], read: (file: string) => string): Graph {
  const scanned = new Set(files);
  const graph: Graph = new Map();
  for (const file of files) {
    const edges = new Set<string>();
    for (const { fileName } of ts.preProcessFile(read(file), true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolveImport(file, fileName);
      if (target && scanned.has(target)) edges.add(relative(ROOT, target));
    }
    graph.set(relative(ROOT, file), edges);
  }
  return graph;
}

/** Tarjan's strongly connected components; every component of more than one node is a cycle. */
function cycles(graph: Graph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.has(node)) found.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return found;
}

/** `shared/worker/rows.ts` -> `worker`; `shared/config.ts` -> `config`. */
function unitOf(path: string): string | undefined {
  const parts = path.split('/');
  if (parts[0] !== 'shared' || parts.length < 2) return undefined;
  return parts.length === 2 ? (parts[1] as string).replace(/\.ts$/, '') : parts[1];
}

function layerOf(unit: string): number {
  const layer = LAYERS.findIndex((units) => units.includes(unit));
  if (layer === -1) throw new Error(`shared/${unit} has no layer: add it to LAYERS in this test (and to the rules)`);
  return layer;
}

function unitGraph(graph: Graph): Graph {
  const units: Graph = new Map();
  for (const [file, targets] of graph) {
    const from = unitOf(file);
    if (!from) continue;
    const edges = units.get(from) ?? new Set<string>();
    units.set(from, edges);
    for (const target of targets) {
      const to = unitOf(target);
      if (to && to !== from) edges.add(to);
    }
  }
  return units;
}

function upwardImports(graph: Graph): string[] {
  const found: string[] = [];
  for (const [file, targets] of graph) {
    const from = unitOf(file);
    if (!from) continue;
    for (const target of targets) {
      const to = unitOf(target);
      if (to && layerOf(to) > layerOf(from)) found.push(`${file} -> ${target}`);
    }
  }
  return found.sort();
}

/** What the check finds beyond the allow-list, and allow-list entries that no longer hold. */
function againstPending(found: string[], pending: string[]) {
  return { unexpected: found.filter((f) => !pending.includes(f)), stale: pending.filter((p) => !found.includes(p)) };
}

const files = SCANNED.flatMap((dir) => sourceFiles(join(ROOT, dir)));
const graph = importGraph(files, (file) => readFileSync(file, 'utf8'));

describe('architecture', () => {
  it('reads the imports it checks (the scan is not vacuous)', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('shared/worker/batch.ts')).toContain('shared/worker/rows.ts');
    expect(graph.get('local/ringcx-simulator/server.ts')).toContain('local/ringcx-simulator/routes/pool.ts');
  });

  it('has no import cycle between files', () => {
    expect(cycles(graph).map((cycle) => cycle.join(' <-> '))).toEqual([]);
  });

  it('has no import cycle between the folders of shared/', () => {
    const { unexpected, stale } = againstPending(
      cycles(unitGraph(graph)).map((cycle) => cycle.join(' <-> ')),
      PENDING.unitCycles,
    );
    expect(unexpected, 'folder cycles').toEqual([]);
    expect(stale, 'allow-listed folder cycles that are gone: remove them from PENDING').toEqual([]);
  });

  it('never imports up a layer', () => {
    const { unexpected, stale } = againstPending(upwardImports(graph), PENDING.upwardImports);
    expect(unexpected, 'imports that run up a layer').toEqual([]);
    expect(stale, 'allow-listed upward imports that are gone: remove them from PENDING').toEqual([]);
  });

  it(`keeps every source file in shared/ within ${MAX_SHARED_LINES} lines`, () => {
    const long = files
      .filter((file) => relative(ROOT, file).startsWith('shared/'))
      .filter((file) => readFileSync(file, 'utf8').split('\n').length > MAX_SHARED_LINES)
      .map((file) => relative(ROOT, file))
      .sort();
    const { unexpected, stale } = againstPending(long, PENDING.longFiles);
    expect(unexpected, 'files over the limit').toEqual([]);
    expect(stale, 'allow-listed long files that are short now: remove them from PENDING').toEqual([]);
  });
});

describe('the checks themselves', () => {
  const graphOf = (edges: Record<string, string[]>): Graph => new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));

  it('finds a cycle through several files, and none in a chain', () => {
    expect(cycles(graphOf({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] }))).toEqual([['a', 'b', 'c']]);
    expect(cycles(graphOf({ a: ['b'], b: ['c'], c: [] }))).toEqual([]);
  });

  it('sees a stage imported from below as an upward import and a folder cycle', () => {
    const back = graphOf({
      'shared/domain/planner.ts': ['shared/worker/rows.ts'],
      'shared/worker/rows.ts': ['shared/domain/planner.ts'],
    });
    expect(upwardImports(back)).toEqual(['shared/domain/planner.ts -> shared/worker/rows.ts']);
    expect(cycles(unitGraph(back))).toEqual([['domain', 'worker']]);
  });
});
