import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { TABLE_ACTIONS } from '../../infra/stack';

/**
 * Reads each function's code path for the DynamoDB commands it can send, so a new store call on a
 * function's path that its grant lacks fails here instead of with AccessDenied in production.
 * Store classes are read method by method (a function that calls only `ledger()` needs only
 * Query), following `this.method(` calls; a file that sends commands outside any method counts whole.
 */
const ROOT = join(import.meta.dirname, '../..');
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
    for (const [key, action] of Object.entries(TRANSACT_ITEM_ACTIONS)) if (new RegExp(`\\b${key}:\\s*\\{`).test(text)) actions.add(action);
  }
  return actions;
}

interface StoreFile {
  /** Public and private methods with their bodies and the methods they call. */
  methods: Map<string, { body: string; calls: string[]; isPrivate: boolean }>;
  /** Actions sent outside any method. */
  loose: Set<string>;
}

const METHOD = /^ {2}(?:(?:public|private|protected|static|readonly|async)\s+)*\*?\s*(\w+)\s*(?:<[^>]*>)?\(/;

function readStoreFile(text: string): StoreFile {
  const methods = new Map<string, { body: string; calls: string[]; isPrivate: boolean }>();
  const lines = text.split('\n');
  const starts = lines.flatMap((line, index) => {
    const name = METHOD.exec(line)?.[1];
    return name && name !== 'constructor' && !['if', 'for', 'while', 'switch', 'return'].includes(name) ? [{ index, name }] : [];
  });
  const inMethods = new Set<number>();
  starts.forEach(({ index, name }, i) => {
    // A method ends where the class's next member starts or the class closes.
    let end = starts[i + 1]?.index ?? lines.length;
    for (let j = index + 1; j < end; j++) if (lines[j] === '}') end = j;
    const body = lines.slice(index, end).join('\n');
    for (let j = index; j < end; j++) inMethods.add(j);
    methods.set(name, { body, isPrivate: /^\s*(?:\w+\s+)*private\b/.test(lines[index]!.split('(')[0]!), calls: [...body.matchAll(/this\.(\w+)\s*(?:<[^>()]*>)?\(/g)].map((m) => m[1]!) });
  });
  const loose = actionsIn(lines.filter((_, index) => !inMethods.has(index)).join('\n'));
  return { methods, loose };
}

/** The actions of a method and every helper it calls, read together (a transaction's items may be built by a helper). */
function methodActions(store: StoreFile, name: string): Set<string> {
  const seen = new Set<string>();
  const pending = [name];
  const bodies: string[] = [];
  while (pending.length > 0) {
    const next = pending.pop()!;
    const method = store.methods.get(next);
    if (!method || seen.has(next)) continue;
    seen.add(next);
    bodies.push(method.body);
    pending.push(...method.calls);
  }
  return actionsIn(bodies.join('\n'));
}

async function codePath(entry: string): Promise<string[]> {
  const result = await build({ entryPoints: [join(ROOT, entry)], bundle: true, write: false, metafile: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'silent' });
  return Object.keys(result.metafile.inputs).map((file) => join(ROOT, file));
}

async function dynamoActionsOf(entry: string): Promise<string[]> {
  const files = new Map((await codePath(entry)).map((file) => [file, readFileSync(file, 'utf8')] as const));
  const stores = new Map([...files].filter(([, text]) => /@aws-sdk\/(?:lib|client)-dynamodb/.test(text)).map(([file, text]) => [file, readStoreFile(text)] as const));
  const actions = new Set<string>();
  for (const [file, store] of stores) {
    for (const a of store.loose) actions.add(a);
    const publicMethods = [...store.methods].filter(([, method]) => !method.isPrivate).map(([name]) => name);
    // A store method counts when any other file on the path calls it.
    for (const name of publicMethods) {
      const called = [...files].some(([other, text]) => other !== file && new RegExp(`\\.${name}\\s*(?:<[^>()]*>)?\\(`).test(text));
      if (called) for (const a of methodActions(store, name)) actions.add(a);
    }
  }
  return [...actions].sort();
}

describe('DynamoDB grants follow the code', () => {
  it('reads a store method by method, following its helpers and transaction items', () => {
    const store = readStoreFile(
      [
        'export class S {',
        '  async a() { return this.db.send(new GetCommand({})); }',
        '  async b() { return this.helper(); }',
        '  private helper() { return this.db.send(new TransactWriteCommand({ TransactItems: [{ Put: {} }, { ConditionCheck: {} }] })); }',
        '}',
      ].join('\n'),
    );
    expect([...methodActions(store, 'a')]).toEqual(['dynamodb:GetItem']);
    expect([...methodActions(store, 'b')].sort()).toEqual(['dynamodb:ConditionCheckItem', 'dynamodb:PutItem']);
  });

  it('deletes only items of the sweeper\'s list, the one partition the DeleteItem grant admits', () => {
    const files = ['shared/store/jobStore.ts', 'shared/store/intents.ts'].map((file) => readFileSync(join(ROOT, file), 'utf8'));
    const deletes = files.flatMap((text) => [...text.matchAll(/(?:new Delete(?:Item)?Command\(|\bDelete:\s*)\{[^}]*Key:\s*([\w.]+)\(/g)].map((m) => m[1]));
    const deleteSites = files.reduce((count, text) => count + [...text.matchAll(/new Delete(?:Item)?Command\(|\bDelete:\s*\{/g)].length, 0);
    expect(deletes.length).toBe(deleteSites);
    expect(deletes.length).toBeGreaterThan(0);
    expect(new Set(deletes)).toEqual(new Set(['openJobKey', 'openRequestKey']));
    const store = files[0]!;
    expect(store).toMatch(/const OPEN_PK = JOB_TABLE\.openListPartition;/);
    expect(store).toMatch(/const openJobKey = \(jobId: string\) => \(\{ pk: OPEN_PK,/);
    expect(store).toMatch(/const openRequestKey = \(requestId: string\) => \(\{ pk: OPEN_PK,/);
  });

  it.each(Object.entries(ENTRIES))('grants %s exactly the DynamoDB actions its code path can send', async (name, entry) => {
    const used = await dynamoActionsOf(entry);
    const granted: readonly string[] = name === 'intake' ? [] : TABLE_ACTIONS[name as keyof typeof TABLE_ACTIONS];
    expect(used.filter((action) => !granted.includes(action)), `${name} sends actions infra/stack.ts TABLE_ACTIONS does not grant`).toEqual([]);
    expect(granted.filter((action) => !used.includes(action)), `${name} is granted actions its code never sends`).toEqual([]);
  }, 60_000);
});

