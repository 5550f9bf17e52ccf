import { describe, expect, it } from 'vitest';
import type { RowMessage } from '../../../shared/contracts';
import { rowMessage } from '../../helpers/rowMessages';
import { mostDeferredFirst, parseRowMessage, type RowDelivery, syncRequestFor, triageJobDeliveries } from '../../../shared/worker/rowMessage';

const message = rowMessage;
const delivery = (id: string, line: number, overrides: Partial<RowMessage> = {}): RowDelivery => ({ record: { messageId: id, body: '', receiveCount: 1 }, message: message(line, overrides) });

describe('parseRowMessage', () => {
  it('reads a row message and says what is wrong with anything else', () => {
    expect(parseRowMessage(JSON.stringify(message(1)))).toEqual({ ok: true, message: message(1) });
    expect(parseRowMessage('{not json')).toEqual({ ok: false, reason: 'body is not JSON' });
    expect(parseRowMessage(JSON.stringify({ ...message(1), line: 'one' }))).toMatchObject({ ok: false, reason: expect.stringMatching(/^line: /) });
  });

  it('refuses a planned row whose state is not a state snapshot', () => {
    const planned = { planId: 'p', state: { nonsense: true }, fingerprint: 'f', actions: [], approvedBy: 'ops', reason: 'r' };
    expect(parseRowMessage(JSON.stringify({ ...message(1), planned }))).toEqual({ ok: false, reason: 'planned.state: not a state snapshot' });
  });
});

describe('triageJobDeliveries', () => {
  it('syncs new rows once, drops rows with a final outcome and second copies, and marks redrives of gave-up rows', () => {
    const recorded = new Map([
      [2, { outcome: 'assigned', gaveUp: false }],
      [3, { outcome: 'failed', gaveUp: true }],
    ]);
    const triage = triageJobDeliveries([delivery('a', 1), delivery('b', 2), delivery('c', 3), delivery('d', 1)], recorded);
    expect(triage.map((t) => [t.kind, t.delivery.record.messageId])).toEqual([
      ['sync', 'a'],
      ['already-recorded', 'b'],
      ['sync', 'c'],
      ['repeated', 'd'],
    ]);
    expect(triage[0]).toMatchObject({ replacesGaveUp: false });
    expect(triage[1]).toMatchObject({ outcome: 'assigned' });
    expect(triage[2]).toMatchObject({ replacesGaveUp: true });
  });
});

describe('mostDeferredFirst', () => {
  it('serves rows handed on before ahead of fresh ones, keeping the order otherwise', () => {
    const order = mostDeferredFirst([delivery('a', 1), delivery('b', 2, { deferrals: 1 }), delivery('c', 3), delivery('d', 4, { deferrals: 2 })]);
    expect(order.map((d) => d.record.messageId)).toEqual(['d', 'b', 'a', 'c']);
  });
});

describe('syncRequestFor', () => {
  it('keys the request by its message and guards a planned row with the state it was planned against', () => {
    const planned = { planId: 'p', state: { s: 1 }, fingerprint: 'f', actions: [{ a: 1 }], approvedBy: 'ops', reason: 'r' };
    expect(syncRequestFor(delivery('m', 5, { planned }))).toEqual({
      key: 'm',
      row: message(5).row,
      mode: 'apply',
      intentKey: 'job#job-1#5',
      expectedState: { snapshot: { s: 1 }, fingerprint: 'f', actions: [{ a: 1 }] },
    });
    expect(syncRequestFor(delivery('m', 5))).not.toHaveProperty('expectedState');
  });
});
