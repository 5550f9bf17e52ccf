import { describe, expect, it } from 'vitest';
import { EventTargetSchema, TARGET_TYPE_NAMES, targetTypeNamed, type TargetType } from '../../../shared/contracts';
import { readHeader } from '../../../shared/csv/columns';
import { validateRow } from '../../../shared/csv/validateRow';

const rules = { defaultRegion: 'US', validation: 'strict' as const, defaultAccountId: '1' };
const csvTarget = (written: string) => {
  const header = readHeader(['dnis', 'target_type', 'target_id']);
  if (!header.ok) throw new Error('the test header is invalid');
  const result = validateRow(['12125550100', written, '7'], header.header, rules);
  return result.ok ? result.row.target?.type : undefined;
};
const eventTarget = (written: string) => {
  const parsed = EventTargetSchema.safeParse({ type: written, id: 7 });
  return parsed.success ? parsed.data.type : undefined;
};

describe('target-type names', () => {
  const spellings = ['queue', 'gate', 'Queue', 'ivr', 'visual_ivr', 'Visual IVR', 'visual-ivr', 'visualIvr', 'cloud_route_profile', 'cloudRouteProfile', 'tracking_group', 'Tracking Group', 'tracgroup'];

  it.each(spellings)('"%s" names the same target type in a CSV file and in an event', (written) => {
    const type = targetTypeNamed(written);
    expect(type).toBeDefined();
    expect(csvTarget(written)).toBe(type);
    expect(eventTarget(written)).toBe(type);
  });

  it.each(['fax', 'queues', 'ivr2'])('"%s" is refused by both', (written) => {
    expect(targetTypeNamed(written)).toBeUndefined();
    expect(csvTarget(written)).toBeUndefined();
    expect(eventTarget(written)).toBeUndefined();
  });

  it('reads back every name it writes', () => {
    for (const [type, name] of Object.entries(TARGET_TYPE_NAMES)) expect(targetTypeNamed(name)).toBe(type as TargetType);
  });
});
