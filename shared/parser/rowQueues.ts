import { SqsBatchSender } from '../aws/sqsBatchSender';
import type { RowCostClass } from '../contracts';
import type { ParserDependencies as Dependencies } from '../dependencies';

/**
 * Row messages to the queue of their cost class (contracts' rowCostClass): cheap rows to the bulk
 * queue, whose large batches share array calls, costly rows to the work queue. Each queue has a
 * sender with the parser's whole send concurrency: most files are all one class, and a file of
 * both sends on both at once.
 */
export class RowQueueSender {
  private readonly senders: Record<RowCostClass, SqsBatchSender>;

  constructor(rt: Pick<Dependencies, 'aws' | 'config'>) {
    const concurrency = rt.config.PARSER_SEND_CONCURRENCY;
    this.senders = {
      cheap: new SqsBatchSender(rt.aws.sqs, rt.config.BULK_QUEUE_URL, concurrency),
      costly: new SqsBatchSender(rt.aws.sqs, rt.config.WORK_QUEUE_URL, concurrency),
    };
  }

  send(costClass: RowCostClass, body: string): Promise<void> {
    return this.senders[costClass].send(body);
  }

  async flush(): Promise<void> {
    await Promise.all([this.senders.cheap.flush(), this.senders.costly.flush()]);
  }
}
