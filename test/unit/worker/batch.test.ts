import { describe, expect, it } from 'vitest';
import { loadFunctionConfig, WorkerConfigSchema } from '../../../shared/config';
import { encodeMessageBody } from '../../../shared/contracts';
import { syncQueueRecords } from '../../../shared/worker/batch';
import type { WorkerDependencies } from '../../../shared/dependencies';
import { RESOURCE_NAMES_FOR_TESTS } from '../../helpers/functionEnv';
import { rowMessage } from '../../helpers/rowMessages';

const row = (line: number) => rowMessage(line);
const request = {
  v: 1,
  kind: 'reassign',
  requestId: 'req-1',
  source: 'crm',
  dnis: '12125550100',
  e164: '+12125550100',
  target: { type: 'gate', id: 1 },
  requestedBy: 'someone',
  reason: 'why',
  receivedAt: new Date(0).toISOString(),
};

describe('syncQueueRecords', () => {
  it('turns a failure that is not a verdict on a row (the table unreachable) into a retry per record, never a thrown batch', async () => {
    const unreachable = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'NetworkingError' });
    };
    const rt = { config: loadFunctionConfig(WorkerConfigSchema, RESOURCE_NAMES_FOR_TESTS), store: { existingOutcomes: unreachable, getRequest: unreachable } } as unknown as WorkerDependencies;
    const records = [
      { messageId: 'a', body: encodeMessageBody(row(2)), receiveCount: 1 },
      { messageId: 'b', body: encodeMessageBody(row(3)), receiveCount: 5 },
      { messageId: 'c', body: encodeMessageBody(request), receiveCount: 1 },
    ];
    const verdicts = await syncQueueRecords(rt, records, { window: undefined, now: () => new Date() });
    expect(Object.fromEntries(verdicts)).toEqual({
      a: { status: 'retry', reason: 'NetworkingError: connect ECONNREFUSED' },
      b: { status: 'retry', reason: 'NetworkingError: connect ECONNREFUSED' },
      c: { status: 'retry', reason: 'NetworkingError: connect ECONNREFUSED' },
    });
  });

  it('runs the reassignment requests of a batch side by side, those for one number one after the other in arrival order', async () => {
    const events: string[] = [];
    let inFlight = 0;
    let most = 0;
    const getRequest = async (requestId: string) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      events.push(`start ${requestId}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      events.push(`end ${requestId}`);
      inFlight -= 1;
      throw Object.assign(new Error('stop here'), { name: 'Stop' });
    };
    const rt = { config: loadFunctionConfig(WorkerConfigSchema, RESOURCE_NAMES_FOR_TESTS), store: { getRequest } } as unknown as WorkerDependencies;
    const on = (requestId: string, dnis: string) => ({ messageId: requestId, body: encodeMessageBody({ ...request, requestId, dnis, e164: `+${dnis}` }), receiveCount: 1 });
    const records = [on('r1', '12125550100'), on('r2', '12125550101'), on('r3', '12125550100'), on('r4', '12125550102')];
    const verdicts = await syncQueueRecords(rt, records, { window: undefined, now: () => new Date() });
    expect([...verdicts.keys()].sort()).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect([...verdicts.values()].every((v) => v.status === 'retry')).toBe(true);
    // Three numbers: three at once; the second request for 12125550100 starts after the first ends.
    expect(most).toBe(3);
    expect(events.indexOf('start r3')).toBeGreaterThan(events.indexOf('end r1'));
  });
});
