import type { DesiredRow, Outcome, Target } from '../domain/desiredRow';
import { aliases, type DynamoTable, type UpdateInput } from './dynamo';

/*
 *   LEDGER / DNIS#<dnis>   the desired state last applied to a number, which the drift report
 *                          compares RingCX against; never expires
 *
 * The ledger lives in one partition, sorted by number, so the drift report reads it with a paged
 * Query. Writes to it are bounded by RingCX's own budget (a few per second), far below what one
 * DynamoDB partition takes. Most writes are items of another store's transaction (a row's outcome,
 * a request's result): ledgerUpdate and declarationUpdate build them.
 */

/** The last desired state applied for a number; see ledgerUpdate for which fields a row sets. */
export interface LedgerEntry {
  dnis: string;
  accountId: string;
  category: string;
  active: boolean;
  description?: string;
  /** Present once some row or event declared routing; null means "should be unassigned". */
  target?: Target | null;
  assignmentActive?: boolean;
  assignmentDescription?: string;
  jobId: string;
  line: number;
  updatedAt: string;
}

/**
 * A file row that named a number but changed nothing (conflict, skipped, failed). Kept on the
 * number's ledger item, apart from the applied state, so the drift report does not call a number
 * "undeclared" that a file did declare.
 */
export interface LedgerDeclaration {
  jobId: string;
  line: number;
  outcome: Outcome;
  at: string;
}

/** A ledger item: an applied desired state (possibly with a later unapplied declaration), or only a declaration. */
export type LedgerItem = (LedgerEntry & { declared?: LedgerDeclaration }) | { dnis: string; declared: LedgerDeclaration; jobId?: undefined };

/** What a successful apply (or reassignment) asks the ledger to remember. */
export interface LedgerWrite {
  row: DesiredRow;
  target: Target | null;
  targetDeclared: boolean;
}

const LEDGER_PK = 'LEDGER';
const ledgerKey = (dnis: string) => ({ pk: LEDGER_PK, sk: `DNIS#${dnis}` });

export class Ledger {
  constructor(private readonly table: DynamoTable) {}

  /** Ledger entries for many numbers at once (the export checks a page of numbers per call). */
  async getLedgerEntries(dnisList: string[]): Promise<Map<string, LedgerItem>> {
    const items = await this.table.batchGetItems('the ledger reads', dnisList.map(ledgerKey));
    return new Map(items.map((item) => [item.dnis as string, item as unknown as LedgerItem]));
  }

  /** Every ledger entry in number order, a page at a time. */
  ledger(): AsyncGenerator<LedgerItem> {
    return this.table.queryItems<LedgerItem>('pk = :pk', { ':pk': LEDGER_PK });
  }

  /** Remembers the desired state an accepted reassignment declared, for the drift report. */
  async putLedger(source: { jobId: string; line: number }, ledger: LedgerWrite): Promise<void> {
    await this.table.updateItem(ledgerUpdate(source.jobId, source.line, ledger, new Date(this.table.now()).toISOString()));
  }
}

/** The update that records an applied desired state, leaving any declaration on the item as it is. */
export function ledgerUpdate(jobId: string, line: number, ledger: LedgerWrite, at: string): UpdateInput {
  const row = ledger.row;
  const names = aliases('dnis', 'accountId', 'category', 'active', 'jobId', 'line', 'updatedAt', 'description', 'target', 'assignmentActive', 'assignmentDescription');
  const sets = ['#dnis = :dnis', '#accountId = :account', '#category = :category', '#active = :active', '#jobId = :job', '#line = :line', '#updatedAt = :at'];
  const values: Record<string, unknown> = {
    ':dnis': row.dnis,
    ':account': row.accountId,
    ':category': row.category,
    ':active': row.active,
    ':job': jobId,
    ':line': line,
    ':at': at,
  };
  if (row.description !== undefined) {
    sets.push('#description = :description');
    values[':description'] = row.description;
  }
  // An inventory-only row says nothing about routing, so it keeps what an earlier row declared.
  if (ledger.targetDeclared) {
    sets.push('#target = :target', '#assignmentActive = :assignmentActive');
    values[':target'] = ledger.target;
    values[':assignmentActive'] = row.assignmentActive;
    if (row.assignmentDescription !== undefined) {
      sets.push('#assignmentDescription = :assignmentDescription');
      values[':assignmentDescription'] = row.assignmentDescription;
    }
  }
  return {
    Key: ledgerKey(row.dnis),
    UpdateExpression: `SET ${sets.join(', ')}`,
    // Only the names the expression uses may be declared.
    ExpressionAttributeNames: Object.fromEntries(Object.entries(names).filter(([alias]) => sets.some((set) => set.startsWith(`${alias} `)))),
    ExpressionAttributeValues: values,
  };
}

/** Sets only the declaration: an applied state on the same item stays as it was. */
export function declarationUpdate(declared: LedgerDeclaration, dnis: string): UpdateInput {
  return {
    Key: ledgerKey(dnis),
    UpdateExpression: 'SET #dnis = :dnis, #declared = :declared',
    ExpressionAttributeNames: aliases('dnis', 'declared'),
    ExpressionAttributeValues: { ':dnis': dnis, ':declared': declared },
  };
}
