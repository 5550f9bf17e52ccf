import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { TABLE_ACTIONS } from '../../infra/stack';
import { BUDGET_TABLE_ACTIONS } from '../../infra/budgetStack';

/**
 * Reads each function's code path for the DynamoDB commands it can send, so a new store call on a
 * function's path that its grant lacks fails here instead of with AccessDenied in production.
 * The stores (shared/store, and any file using the DynamoDB SDK) are read function by function: a
 * function that calls only `ledger()` needs only Query. A store function counts when code outside
 * shared/store calls it, and brings every store function it calls by name (`this.getPlanRecord(`,
 * `this.table.updateIf(` into dynamo.ts, `ledgerUpdate(` into ledger.ts), read together so a
 * transaction's items count wherever they are built. Code outside any function counts whole.
 */
const ROOT = join(import.meta.dirname, '../..');
const STORE_DIR = join(ROOT, 'shared/store');
const ENTRIES = {
  parser: 'functions/parser/app.ts',
  worker: 'functions/worker/app.ts',
  exporter: 'functions/exporter/app.ts',
  refresher: 'functions/token-refresher/app.ts',
  intake: 'functions/reassign-intake/app.ts',
  sweeper: 'functions/sweeper/app.ts',
} as const;

const COMMAND_ACTIONS: Record<string, string[]> = {
  GetCommand: ['dynamodb:GetItem'],
  GetItemCommand: ['dynamodb:GetItem'],
  PutCommand: ['dynamodb:PutItem'],
  PutItemCommand: ['dynamodb:PutItem'],
  UpdateCommand: ['dynamodb:UpdateItem'],
  UpdateItemCommand: ['dynamodb:UpdateItem'],
  DeleteCommand: ['dynamodb:DeleteItem'],
  DeleteItemCommand: ['dynamodb:DeleteItem'],
  QueryCommand: ['dynamodb:Query'],
  ScanCommand: ['dynamodb:Scan'],
  BatchGetCommand: ['dynamodb:BatchGetItem'],
  BatchGetItemCommand: ['dynamodb:BatchGetItem'],
  BatchWriteCommand: ['dynamodb:BatchWriteItem'],
  BatchWriteItemCommand: ['dynamodb:BatchWriteItem'],
  TransactGetCommand: ['dynamodb:GetItem'],
  TransactGetItemsCommand: ['dynamodb:GetItem'],
};
/** A transaction is authorised per item: these keys in its items name the actions. */
const TRANSACT_ITEM_ACTIONS: Record<string, string> = { Put: 'dynamodb:PutItem', Update: 'dynamodb:UpdateItem', Delete: 'dynamodb:DeleteItem', ConditionCheck: 'dynamodb:ConditionCheckItem' };

function actionsIn(text: string): Set<string> {
  const actions = new Set<string>();
  for (const [, command] of text.matchAll(/new (\w+Command)\(/g)) for (const a of COMMAND_ACTIONS[command!] ?? []) actions.add(a);
  if (/new Transact(?:Write|WriteItems)Command\(/.test(text) || /TransactItems/.test(text)) {
    for (const [key, action] of Object.entries(TRANSACT_ITEM_ACTIONS)) if (new RegExp(`\\b${key}:\\s*(?:\\{|\\w+\\()`).test(text)) actions.add(action);
  }
  return actions;
}

interface StoreUnit {
  name: string;
  body: string;
  /** A private method, or a function the file does not export: reached only from its own file. */
  isPrivate: boolean;
  isMethod: boolean;
}

interface StoreFile {
  units: StoreUnit[];
  /** Actions sent outside any function or method. */
  loose: Set<string>;
}

const CLASS = /^(?:export\s+)?(?:abstract\s+)?class\s+\w+/;
const METHOD = /^ {2}(?=\S)(?:(?:public|private|protected|static|readonly|async)\s+)*\*?\s*(\w+)\s*(?:<[^>]*>)?\(/;
const FUNCTION = /^(?:export\s+)?(?:async\s+)?function\s*\*?\s*(\w+)|^(?:export\s+)?const\s+(\w+)\s*=\s*(?:async\s*)?(?:<[^>]*>)?\(/;
const NOT_A_NAME = new Set(['constructor', 'if', 'for', 'while', 'switch', 'return', 'catch', 'function']);

function readStoreFile(text: string): StoreFile {
  const lines = text.split('\n');
  const starts: { index: number; name: string | undefined; isPrivate: boolean; isMethod: boolean }[] = [];
  let inClass = false;
  lines.forEach((line, index) => {
    if (CLASS.test(line)) {
      inClass = true;
      starts.push({ index, name: undefined, isPrivate: false, isMethod: false });
    } else if (line === '}') {
      inClass = false;
      starts.push({ index, name: undefined, isPrivate: false, isMethod: false });
    } else if (inClass) {
      const name = METHOD.exec(line)?.[1];
      // A constructor starts a member too: it ends the member before it, and counts as loose code.
      if (name === 'constructor') starts.push({ index, name: undefined, isPrivate: false, isMethod: false });
      else if (name && !NOT_A_NAME.has(name)) starts.push({ index, name, isPrivate: /^\s*(?:\w+\s+)*private\b/.test(line.split('(')[0]!), isMethod: true });
    } else {
      const match = FUNCTION.exec(line);
      if (match) starts.push({ index, name: match[1] ?? match[2], isPrivate: !line.startsWith('export'), isMethod: false });
    }
  });
  const inUnits = new Set<number>();
  const units: StoreUnit[] = [];
  starts.forEach(({ index, name, isPrivate, isMethod }, i) => {
    if (!name) return;
    // A function ends where the next member, function or class starts, or its class closes.
    const end = starts[i + 1]?.index ?? lines.length;
    for (let j = index; j < end; j++) inUnits.add(j);
    units.push({ name, isPrivate, isMethod, body: lines.slice(index, end).join('\n') });
  });
  const loose = actionsIn(lines.filter((_, index) => !inUnits.has(index)).join('\n'));
  return { units, loose };
}

/** Every store function by name, across files: a call is followed to each function of that name. */
function indexUnits(stores: Iterable<StoreFile>): Map<string, StoreUnit[]> {
  const index = new Map<string, StoreUnit[]>();
  for (const store of stores) for (const unit of store.units) index.set(unit.name, [...(index.get(unit.name) ?? []), unit]);
  return index;
}

/** The actions of a store function and every store function it calls, read together. */
function unitActions(index: Map<string, StoreUnit[]>, name: string): Set<string> {
  const seen = new Set<string>();
  const pending = [name];
  const bodies: string[] = [];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    for (const unit of index.get(next) ?? []) {
      bodies.push(unit.body);
      for (const [, called] of unit.body.matchAll(/\b(\w+)\s*(?:<(?:[^<>()]|<[^<>()]*>)*>)?\(/g)) if (index.has(called!) && !seen.has(called!)) pending.push(called!);
    }
  }
  return actionsIn(bodies.join('\n'));
}

async function codePath(entry: string): Promise<string[]> {
  const result = await build({ entryPoints: [join(ROOT, entry)], bundle: true, write: false, metafile: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'silent' });
  return Object.keys(result.metafile.inputs).map((file) => join(ROOT, file));
}

const inStoreDir = (file: string) => file.startsWith(`${STORE_DIR}/`);
/** The RingCX budget's ledger writes to the account-wide budget table, granted apart (BUDGET_TABLE_ACTIONS). */
const BUDGET_STORE = join(STORE_DIR, 'budgetSlices.ts');

async function dynamoActionsOf(entry: string): Promise<string[]> {
  const files = new Map((await codePath(entry)).map((file) => [file, readFileSync(file, 'utf8')] as const));
  const stores = new Map(
    [...files].filter(([file, text]) => file !== BUDGET_STORE && (inStoreDir(file) || /@aws-sdk\/(?:lib|client)-dynamodb/.test(text))).map(([file, text]) => [file, readStoreFile(text)] as const),
  );
  const index = indexUnits(stores.values());
  // shared/ringcx may not import shared/store (test/unit/architecture.test.ts): its calls are the
  // budget ledger's, whose method names (`record`, `take`) would otherwise match job-table stores.
  const callers = [...files].filter(([file]) => !inStoreDir(file) && !file.startsWith(join(ROOT, 'shared/ringcx/')));
  const actions = new Set<string>();
  for (const [file, store] of stores) {
    for (const a of store.loose) actions.add(a);
    for (const unit of store.units.filter((u) => !u.isPrivate)) {
      // A method is called on something (never `this`, the caller's own, nor zod's `z`); a function by its name.
      const call = new RegExp(`${unit.isMethod ? '(?<!\\bthis|\\bz)\\.' : '\\b'}${unit.name}\\s*(?:<[^>()]*>)?\\(`);
      if (callers.some(([other, text]) => other !== file && call.test(text))) for (const a of unitActions(index, unit.name)) actions.add(a);
    }
  }
  return [...actions].sort();
}

describe('DynamoDB grants follow the code', () => {
  it('reads the stores function by function, following calls across files and transaction items wherever they are built', () => {
    const helper = readStoreFile(
      [
        "import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';",
        'export class Table {',
        '  async getItem(key) { return this.db.send(new GetCommand({ Key: key })); }',
        '  async transactIf(items) { return this.db.send(new TransactWriteCommand({ TransactItems: items })); }',
        '}',
      ].join('\n'),
    );
    const entity = readStoreFile(
      [
        'export class S {',
        '  constructor(private readonly table: Table) {}',
        '  async a() { return this.table.getItem(key()); }',
        '  async b() { return this.table.transactIf([{ Put: {} }, { Update: builtElsewhere() }, checked()]); }',
        '  async c() { return this.a(); }',
        '}',
        'function checked() { return { ConditionCheck: {} }; }',
        'const key = () => ({ pk: 1 });',
      ].join('\n'),
    );
    expect(entity.units.map((u) => [u.name, u.isPrivate, u.isMethod])).toEqual([['a', false, true], ['b', false, true], ['c', false, true], ['checked', true, false], ['key', true, false]]);
    const index = indexUnits([helper, entity]);
    expect([...unitActions(index, 'a')]).toEqual(['dynamodb:GetItem']);
    expect([...unitActions(index, 'b')].sort()).toEqual(['dynamodb:ConditionCheckItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    expect([...unitActions(index, 'c')]).toEqual(['dynamodb:GetItem']);
  });

  it('deletes only items of the sweeper\'s list, the one partition the DeleteItem grant admits', () => {
    const files = readdirSync(STORE_DIR)
      .filter((name) => name.endsWith('.ts'))
      .map((name) => [name, readFileSync(join(STORE_DIR, name), 'utf8')] as const);
    expect(files.length).toBeGreaterThan(3);
    // A delete written as a command or a transaction item, or a transaction item some function builds.
    const deleteSites = /new Delete(?:Item)?Command\(|\bDelete:\s*(?:\{|\w+\()/g;
    const keyedDeletes = /(?:new Delete(?:Item)?Command\(|\bDelete:\s*)\{[^}]*Key:\s*([\w.]+)\(/g;
    const deletes = files.flatMap(([name, text]) => [...text.matchAll(keyedDeletes)].map((m) => `${name}: ${m[1]}`));
    const sites = files.reduce((count, [, text]) => count + [...text.matchAll(deleteSites)].length, 0);
    expect(deletes.length).toBe(sites);
    expect(deletes.length).toBeGreaterThan(0);
    expect(new Set(deletes)).toEqual(new Set(['openList.ts: openJobKey', 'openList.ts: openRequestKey']));
    const openList = files.find(([name]) => name === 'openList.ts')![1];
    expect(openList).toMatch(/const OPEN_PK = JOB_TABLE\.openListPartition;/);
    expect(openList).toMatch(/const openJobKey = \(jobId: string\) => \(\{ pk: OPEN_PK,/);
    expect(openList).toMatch(/const openRequestKey = \(requestId: string\) => \(\{ pk: OPEN_PK,/);
  });

  it('grants on the RingCX budget table exactly what its ledger can send', () => {
    const ledger = readStoreFile(readFileSync(BUDGET_STORE, 'utf8'));
    const index = indexUnits([readStoreFile(readFileSync(join(STORE_DIR, 'dynamo.ts'), 'utf8')), ledger]);
    const actions = new Set(ledger.loose);
    for (const unit of ledger.units.filter((u) => !u.isPrivate)) for (const a of unitActions(index, unit.name)) actions.add(a);
    expect([...actions].sort()).toEqual([...BUDGET_TABLE_ACTIONS].sort());
  });

  it.each(Object.entries(ENTRIES))('grants %s exactly the DynamoDB actions its code path can send', async (name, entry) => {
    const used = await dynamoActionsOf(entry);
    const granted: readonly string[] = name === 'intake' ? [] : TABLE_ACTIONS[name as keyof typeof TABLE_ACTIONS];
    expect(used.filter((action) => !granted.includes(action)), `${name} sends actions infra/stack.ts TABLE_ACTIONS does not grant`).toEqual([]);
    expect(granted.filter((action) => !used.includes(action)), `${name} is granted actions its code never sends`).toEqual([]);
  }, 60_000);
});

