import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AuditTrail } from './audit';
import { DynamoTable, type Retention } from './dynamo';
import { JobCompletion } from './jobCompletion';
import { Jobs } from './jobs';
import { LastAttempts } from './lastAttempts';
import { Ledger } from './ledger';
import { Leases } from './leases';
import { OpenList } from './openList';
import { Plans } from './plans';
import { Requests } from './requests';
import { RowOutcomes } from './rowOutcomes';

/*
 * The job table (one table, shaped by table.ts) holds these kinds of item, each with its own store:
 *   JOB#<id> / META          jobs.ts, jobCompletion.ts   the job, from claim to completion
 *   JOB#<id> / ROW#<line>    rowOutcomes.ts              a row's final outcome, with the job's counters
 *   JOB#<id> / TRY#<line>    lastAttempts.ts             a row's last allowed delivery
 *   LEDGER / DNIS#<dnis>     ledger.ts                   the desired state the drift report compares against
 *   AUDIT#<dnis> / <time>    audit.ts                    who moved a number, why, from where to where
 *   REQ#<id> / META          requests.ts                 a reassignment request's result and owed answer
 *   PLAN#<id> / META         plans.ts                    a saved plan, and the one job that applied it
 *   LEASE#<name> / META      leases.ts                   a lease with at most one holder
 *   OPEN / JOB#|REQ#<id>     openList.ts                 what the sweeper must look at
 *   INTENT#<key> / INTENT    intents.ts                  what a write set out to change (built on its own)
 * All of them talk to DynamoDB through dynamo.ts, which holds the retry policy and conditional writes.
 */

export type { JobMeta, JobSource, JobStatus, PendingEvent } from './jobs';
export type { OutcomeWrite, RowOutcome } from './rowOutcomes';
export type { LastAttempt } from './lastAttempts';
export type { LedgerDeclaration, LedgerEntry, LedgerItem, LedgerWrite } from './ledger';
export type { AuditEntry } from './audit';
export type { RequestRecord } from './requests';
export type { PlanRecord } from './plans';

export interface JobStoreOptions extends Retention {
  now?: () => number;
}

/** The entity stores the job store is made of, each made from the table and the retention. */
const STORES = [Jobs, JobCompletion, RowOutcomes, LastAttempts, Ledger, AuditTrail, Requests, Plans, Leases, OpenList] as const;
type Store = InstanceType<(typeof STORES)[number]>;

/** The public methods of a store, as the composition exposes them. */
type MethodsOf<T> = Pick<T, keyof T>;

/**
 * All the stores as one object, so the functions take one `store`. A composition only: each of its
 * methods calls the same method of one entity store; two stores may not share a method name.
 */
export interface JobStore
  extends MethodsOf<Jobs>,
    MethodsOf<JobCompletion>,
    MethodsOf<RowOutcomes>,
    MethodsOf<LastAttempts>,
    MethodsOf<Ledger>,
    MethodsOf<AuditTrail>,
    MethodsOf<Requests>,
    MethodsOf<Plans>,
    MethodsOf<Leases>,
    MethodsOf<OpenList> {}

/** The interface of the same name gives the class its methods' types; the static block adds them. */
export class JobStore {
  private readonly stores: Map<(typeof STORES)[number], Store>;

  constructor(db: DynamoDBDocumentClient, tableName: string, options: JobStoreOptions) {
    const table = new DynamoTable(db, tableName, { now: options.now });
    this.stores = new Map(STORES.map((Entity) => [Entity, new Entity(table, options)]));
  }

  static {
    // On the prototype, like any class's methods, so a test can still spy on JobStore.prototype.
    for (const Entity of STORES) {
      for (const name of Object.getOwnPropertyNames(Entity.prototype)) {
        if (name === 'constructor') continue;
        if (Object.hasOwn(JobStore.prototype, name)) throw new Error(`two stores define ${name}`);
        Object.defineProperty(JobStore.prototype, name, {
          value(this: JobStore, ...args: unknown[]) {
            return (this.stores.get(Entity) as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!(...args);
          },
          writable: true,
          configurable: true,
        });
      }
    }
  }
}
