import { describe, expect, it } from 'vitest';
import { assertRegion, normalizeNumber, toWireDnis } from '../../../shared/domain/phoneNumber';

describe('normalizeNumber', () => {
  it.each([
    ['+1 (212) 555-0123', '+12125550123'],
    ['212.555.0123', '+12125550123'],
    ['12125550123', '+12125550123'],
    ['(212) 555-0123', '+12125550123'],
    ['212-555-0123', '+12125550123'],
    ['2125550123', '+12125550123'],
    ['+12125550123', '+12125550123'],
    ['1-212-555-0123', '+12125550123'],
    ['1 (212) 555 0123', '+12125550123'],
    ['+1.212.555.0123', '+12125550123'],
    ['  212 555 0123  ', '+12125550123'],
    ['tel:+12125550123', '+12125550123'],
    ['001 212 555 0123', '+12125550123'],
    ['1 (800) 642-7676', '+18006427676'],
    ['(416) 555-0134', '+14165550134'],
    ['+44 20 7946 0958', '+442079460958'],
    ['+44 (0)20 7946 0958', '+442079460958'],
    ['011 44 20 7946 0958', '+442079460958'],
    ['+33 1 42 68 53 00', '+33142685300'],
    ['+49 30 901820', '+4930901820'],
    ['+61 2 9374 4000', '+61293744000'],
    ['+81 3-3224-9999', '+81332249999'],
  ])('accepts %j as %s', (input, e164) => {
    const result = normalizeNumber(input);
    expect(result).toEqual({ ok: true, value: expect.objectContaining({ e164, dnis: e164.slice(1) }) });
  });

  it('reads national numbers in the configured default region', () => {
    expect(normalizeNumber('020 7946 0958', { defaultRegion: 'GB' })).toMatchObject({ ok: true, value: { e164: '+442079460958' } });
    expect(normalizeNumber('020 7946 0958', { defaultRegion: 'US' }).ok).toBe(false);
  });

  it.each([
    ['', 'is empty'],
    ['   ', 'is empty'],
    ['abc', 'contains letters'],
    ['1-800-FLOWERS', 'contains letters'],
    ['212555012a', 'contains letters'],
    ['123', 'too short'],
    ['55501', 'too short'],
    ['+1 212 555 01234', 'wrong number of digits for +1'],
    ['1234567890123456', 'too long'],
    ['+999 1234567', 'country calling code that does not exist'],
    ['2125550123 x12', 'extension'],
    ['2125550123;ext=1', 'extension'],
    ['+1 (555) 123-4567', 'not an assigned number range'],
  ])('rejects %j with a reason mentioning %j', (input, reason) => {
    const result = normalizeNumber(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });

  it('accepts unallocated but plausible numbers when validation is "possible"', () => {
    expect(normalizeNumber('+1 (555) 123-4567', { validation: 'possible' })).toMatchObject({ ok: true, value: { dnis: '15551234567' } });
  });

  it('refuses an unknown default region at configuration time', () => {
    expect(() => assertRegion('XX')).toThrow(/not a supported ISO 3166-1 region/);
    expect(() => normalizeNumber('2125550123', { defaultRegion: 'ZZ' })).toThrow();
  });

  it('turns E.164 into the RingCX wire form', () => {
    expect(toWireDnis('+12125550123')).toBe('12125550123');
    expect(toWireDnis('12125550123')).toBe('12125550123');
  });
});
