import { describe, expect, it } from 'vitest';
import { actionableDrift, driftOf, driftOfAbsent, emptyDriftCounts, type LedgerView } from '../../../shared/domain/drift';

const gate = (id: number) => ({ type: 'gate' as const, id });
const applied = (fields: Partial<Extract<LedgerView, { jobId: string }>> = {}): LedgerView => ({ dnis: '12125550100', jobId: 'job-1', line: 4, ...fields });
const declaredOnly: LedgerView = { dnis: '12125550100', declared: { jobId: 'job-2', line: 9, outcome: 'conflict' } };
const pool = { dnisDescription: 'Main line', active: true };

describe('driftOf', () => {
  it('finds nothing when RingCX holds what was declared', () => {
    expect(driftOf('12125550100', pool, gate(1), applied({ target: gate(1), description: 'Main line', active: true }))).toEqual([]);
  });

  it('calls a number no file or event declared "undeclared"', () => {
    expect(driftOf('12125550100', pool, gate(1), undefined)).toEqual([
      { dnis: '12125550100', kind: 'undeclared', desired: '', actual: 'queue:1', detail: 'in RingCX but no file or event ever declared it (informational)' },
    ]);
  });

  it('names the file row behind a declaration that applied nothing', () => {
    expect(driftOf('12125550100', pool, null, declaredOnly)).toEqual([
      {
        dnis: '12125550100',
        kind: 'not-applied',
        desired: '',
        actual: 'unassigned',
        detail: 'declared by a file row that ended conflict; nothing was applied, so there is no desired state to compare (informational)',
        declaredByJob: 'job-2',
        declaredOnLine: 9,
      },
    ]);
  });

  it('tells an unrouted number from one routed elsewhere, and one routed against a declared "unassigned"', () => {
    expect(driftOf('1', pool, null, applied({ target: gate(1) })).map((f) => [f.kind, f.desired, f.actual, f.detail])).toEqual([['unassigned', 'queue:1', 'unassigned', 'should be assigned']]);
    expect(driftOf('1', pool, gate(2), applied({ target: gate(1) })).map((f) => [f.kind, f.desired, f.actual])).toEqual([['assigned-elsewhere', 'queue:1', 'queue:2']]);
    expect(driftOf('1', pool, gate(2), applied({ target: null })).map((f) => [f.kind, f.desired, f.detail])).toEqual([['assigned-elsewhere', 'unassigned', 'declared unassigned but routes calls']]);
    expect(driftOf('1', pool, gate(2), applied({}))).toEqual([]);
  });

  it('compares the pool fields a declaration set, each as its own finding with the declaring job and line', () => {
    const findings = driftOf('1', { dnisDescription: null, active: false }, gate(1), applied({ target: gate(1), description: 'Main line', active: true }));
    expect(findings).toEqual([
      { dnis: '1', kind: 'description-mismatch', desired: 'Main line', actual: '', detail: 'pool description differs', declaredByJob: 'job-1', declaredOnLine: 4 },
      { dnis: '1', kind: 'active-mismatch', desired: 'true', actual: 'false', detail: 'pool active flag differs', declaredByJob: 'job-1', declaredOnLine: 4 },
    ]);
    // RingCX not saying whether the number is active is no finding.
    expect(driftOf('1', { active: null }, null, applied({ active: true }))).toEqual([]);
  });
});

describe('driftOfAbsent', () => {
  it('reports an applied number missing from the pool with what was desired', () => {
    expect(driftOfAbsent(applied({ target: gate(3) }))).toMatchObject({ kind: 'missing', desired: 'queue:3', actual: 'not in RingCX', declaredByJob: 'job-1', declaredOnLine: 4 });
    expect(driftOfAbsent(applied({ target: null })).desired).toBe('unassigned');
    expect(driftOfAbsent(applied({})).desired).toBe('in the pool');
  });

  it('keeps a mere declaration informational', () => {
    expect(driftOfAbsent(declaredOnly)).toMatchObject({ kind: 'not-applied', actual: 'not in RingCX', declaredByJob: 'job-2' });
  });
});

describe('drift counts', () => {
  it('counts only the kinds someone must act on as actionable', () => {
    const counts = emptyDriftCounts();
    expect(Object.values(counts)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    counts.undeclared = 5;
    counts['not-applied'] = 2;
    expect(actionableDrift(counts)).toBe(0);
    counts.missing = 1;
    counts['active-mismatch'] = 2;
    expect(actionableDrift(counts)).toBe(3);
  });
});
