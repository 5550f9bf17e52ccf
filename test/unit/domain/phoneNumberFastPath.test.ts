import { parsePhoneNumberWithError } from 'libphonenumber-js';
import { beforeEach, describe, expect, it } from 'vitest';
import { normalizeNumber, resetNumberCache } from '../../../shared/domain/phoneNumber';
import { seededRandom } from '../../helpers/random';

/** What libphonenumber alone says, in normalizeNumber's terms. */
function oracle(input: string, region = 'US') {
  try {
    const parsed = parsePhoneNumberWithError(input, region as 'US');
    if (!parsed.isPossible() || !parsed.isValid()) return 'invalid';
    return `${parsed.number} ${parsed.country}`;
  } catch {
    return 'invalid';
  }
}

function ours(input: string, region = 'US') {
  const result = normalizeNumber(input, { defaultRegion: region });
  return result.ok ? `${result.value.e164} ${result.value.country}` : 'invalid';
}

describe('NANP fast path', () => {
  beforeEach(() => resetNumberCache());

  it('agrees with libphonenumber on 60,000 random North American numbers, cache warm and cold', () => {
    const random = seededRandom(2026);
    const inputs: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      const npa = 200 + Math.floor(random() * 800);
      // Few exchanges per area code, so most numbers hit a warm cache entry.
      const nxx = 200 + Math.floor(random() * 4) * 111;
      const line = String(Math.floor(random() * 10_000)).padStart(4, '0');
      inputs.push(`${npa}${nxx}${line}`, `+1 (${npa}) ${nxx}-${line}`);
    }
    const disagreements = inputs.filter((input) => ours(input) !== oracle(input));
    expect(disagreements).toEqual([]);
  });

  it('takes 1 + 10 digits as North American only in NANP regions', () => {
    expect(ours('12125550123', 'US')).toBe('+12125550123 US');
    expect(ours('12125550123', 'US')).toBe('+12125550123 US');
    expect(ours('2125550123', 'GB')).toBe(oracle('2125550123', 'GB'));
    expect(ours('+12125550123', 'GB')).toBe('+12125550123 US');
  });

  it('tells Canada and the Caribbean apart from the US by area code', () => {
    for (const input of ['4165550134', '4165550135', '2425550100', '2425550101', '8765550100', '8765550111']) {
      expect(ours(input)).toBe(oracle(input));
    }
  });
});
