import {
  type CountryCode,
  isSupportedCountry,
  ParseError,
  parsePhoneNumberWithError,
} from 'libphonenumber-js';
import { Metadata } from 'libphonenumber-js/core';
import metadataJson from 'libphonenumber-js/min/metadata';

/**
 * A phone number in the two forms RingCX uses: `dnis` is the E.164 digits without `+`
 * (`15551234567`, what every RingCX example and search result carries) and `dnisE164` keeps the `+`.
 */
export interface NormalizedNumber {
  e164: string;
  dnis: string;
  country: string | undefined;
}

export type NumberValidation = 'strict' | 'possible';

export type NormalizeResult =
  | { ok: true; value: NormalizedNumber }
  | { ok: false; reason: string };

export interface NormalizeOptions {
  defaultRegion?: string;
  /**
   * `strict` (the default) also rejects numbers that have the right length but sit in ranges no
   * carrier has been allocated (unassigned area codes, 555 outside 555-01XX, ...), which are almost
   * always typos. `possible` accepts any number of a plausible length, for test tenants.
   */
  validation?: NumberValidation;
}

const PARSE_REASONS: Record<string, string> = {
  INVALID_COUNTRY: 'has a country calling code that does not exist',
  NOT_A_NUMBER: 'is not a phone number',
  TOO_SHORT: 'is too short to be a phone number',
  TOO_LONG: 'is too long to be a phone number',
  INVALID_LENGTH: 'has the wrong number of digits',
};

export function assertRegion(region: string): CountryCode {
  if (!isSupportedCountry(region)) {
    throw new Error(`"${region}" is not a supported ISO 3166-1 region code (e.g. US, GB, CA)`);
  }
  return region;
}

/**
 * Turns what people type into a spreadsheet into the RingCX wire form, or says in words why it can't.
 * Pure: no I/O, safe to call for a million rows.
 */
export function normalizeNumber(raw: string, options: NormalizeOptions = {}): NormalizeResult {
  const region = assertRegion(options.defaultRegion ?? 'US');
  const input = raw.trim().replace(/^tel:/i, '');
  if (input === '') return { ok: false, reason: 'is empty' };
  // "x" counts as an extension marker only after a gap, as in "212 555 0123 x12"; "01x9" is a typo.
  if (/[;#*]|ext|\d\s+x\.?\s*\d+$/i.test(input)) {
    return { ok: false, reason: 'has an extension or dial string; a DNIS is the bare number' };
  }
  // libphonenumber maps vanity letters to digits (1-800-FLOWERS); a DNIS file is the wrong place to
  // guess that an operator meant a keypad spelling rather than a typo.
  if (/[a-z]/i.test(input)) {
    return { ok: false, reason: 'contains letters; write the number with digits only' };
  }
  const fast = nanpFastPath(input, region);
  if (fast) return fast;
  const digits = input.replace(/\D/g, '');
  if (digits.length < 7) return { ok: false, reason: `is too short (${digits.length} digits)` };
  if (digits.length > 15) return { ok: false, reason: `is too long (${digits.length} digits; E.164 allows 15)` };

  // A NANP number written with its trunk "1" but no "+" (12125550123) parses as national in US/CA
  // only when we say so; libphonenumber handles that for the default region itself.
  let parsed;
  try {
    parsed = parsePhoneNumberWithError(input.startsWith('00') ? `+${input.slice(2)}` : input, region);
  } catch (error) {
    const code = error instanceof ParseError ? error.message : 'NOT_A_NUMBER';
    return { ok: false, reason: PARSE_REASONS[code] ?? 'is not a phone number' };
  }
  if (!parsed.isPossible()) {
    const country = parsed.country ?? `+${parsed.countryCallingCode}`;
    return { ok: false, reason: `has the wrong number of digits for ${country}` };
  }
  if ((options.validation ?? 'strict') === 'strict' && !parsed.isValid()) {
    const country = parsed.country ?? `+${parsed.countryCallingCode}`;
    return {
      ok: false,
      reason: `is not an assigned number range in ${country} (check the area code and exchange)`,
    };
  }
  const e164 = parsed.number;
  if (parsed.countryCallingCode === '1' && parsed.country && parsed.isValid()) rememberNanpPrefix(parsed.nationalNumber, parsed.country);
  return { ok: true, value: { e164, dnis: e164.slice(1), country: parsed.country } };
}

/*
 * libphonenumber costs ~15 µs a number, most of it rebuilding regular expressions on every call;
 * a million-row file is dominated by it. North American numbers are most of what a RingCX tenant
 * holds, and their validity and country are decided by the area code and exchange. So the first
 * valid number of each NPA-NXX goes through libphonenumber, which names the country; later numbers
 * of that NPA-NXX are checked against that country's own patterns, compiled once. Anything the
 * cache cannot vouch for takes the full path, so the answer never differs from libphonenumber's
 * (test/unit/domain/phoneNumberFastPath.test.ts compares the two on random numbers of every NANP area code).
 */
const metadata = new Metadata(metadataJson as never);
const NANP_REGIONS = new Set<string>(
  (metadata as unknown as { getCountryCodesForCallingCode(code: string): string[] | undefined }).getCountryCodesForCallingCode('1') ?? [],
);
const NUMBER_TYPES = ['FIXED_LINE', 'MOBILE', 'TOLL_FREE', 'PREMIUM_RATE', 'PERSONAL_NUMBER', 'VOIP', 'UAN', 'VOICEMAIL', 'PAGER', 'SHARED_COST'];
const countryPatterns = new Map<string, RegExp>();
const nanpPrefixes = new Map<string, { country: string; pattern: RegExp }>();
const NANP_SHAPE = /^\+?(1?)([2-9]\d{9})$/;

function patternFor(country: string): RegExp {
  let pattern = countryPatterns.get(country);
  if (!pattern) {
    metadata.selectNumberingPlan(country as CountryCode);
    const plan = metadata.numberingPlan as unknown as {
      nationalNumberPattern(): string;
      type(t: string): { pattern(): string } | undefined;
    };
    const types = NUMBER_TYPES.map((t) => plan.type(t)?.pattern()).filter((p): p is string => Boolean(p));
    pattern = new RegExp(`^(?=(?:${plan.nationalNumberPattern()})$)(?:${types.join('|')})$`);
    countryPatterns.set(country, pattern);
  }
  return pattern;
}

function rememberNanpPrefix(nationalNumber: string, country: string): void {
  if (nationalNumber.length !== 10 || nanpPrefixes.size > 20_000) return;
  nanpPrefixes.set(nationalNumber.slice(0, 6), { country, pattern: patternFor(country) });
}

function nanpFastPath(input: string, region: CountryCode): NormalizeResult | undefined {
  const compact = input.replace(/[\s().\-]/g, '');
  const match = NANP_SHAPE.exec(compact);
  if (!match) return undefined;
  // Without "+", "1" + 10 digits or 10 digits are national North American numbers only in NANP regions.
  if (!compact.startsWith('+') && !NANP_REGIONS.has(region)) return undefined;
  if (compact.startsWith('+') && match[1] !== '1') return undefined;
  const national = match[2] as string;
  const known = nanpPrefixes.get(national.slice(0, 6));
  if (!known || !known.pattern.test(national)) return undefined;
  return { ok: true, value: { e164: `+1${national}`, dnis: `1${national}`, country: known.country } };
}

/** For tests: forget the fast path's cache. */
export function resetNumberCache(): void {
  nanpPrefixes.clear();
}


/** The wire form of a number that is already E.164 or wire digits, as RingCX returns them. */
export function toWireDnis(value: string): string {
  return value.replace(/^\+/, '').replace(/\D/g, '');
}
