import { z } from 'zod';
import { toWireDnis } from '../domain/phoneNumber';
import type { DnisPoolInput, TracNumberInput } from './schemas';

/*
 * The RingCX API as the client addresses it: paths, the request bodies this system sends, and
 * numbers in their wire form (digits, with E.164 alongside). The operations are in client.ts.
 */

export const TN_MANAGER = '/voice/api/v1/admin/utilities/tnManager';
export const accountBase = (accountId: string) => `/voice/api/v1/admin/accounts/${encodeURIComponent(accountId)}`;

/** The three voice destinations that take array assignment bodies. */
export type VoiceTargetType = 'gate' | 'visualIvr' | 'cloudRouteProfile';

export const ASSIGN_PATHS: Record<VoiceTargetType, string> = {
  gate: 'gates',
  visualIvr: 'visualIvrs',
  cloudRouteProfile: 'cloudRouteProfiles',
};

/** `DnisListRequest` from the spec; `searchText` is how a number is looked up. */
export interface DnisListRequest {
  searchText?: string;
  accountIds?: string[];
  dnisState?: string;
  phoneNumbersI18nEnabled?: boolean;
}

/** The subset of `TnManagerSearchCriteria` this system uses. */
export interface PoolSearchCriteria {
  accountIds?: string[];
  dnis?: string[];
  dnisFilter?: string;
  active?: boolean;
  assigned?: boolean;
}

/** RingCX answers a removal with true, "true" or an empty body: each means it succeeded. */
export const BooleanResultSchema = z
  .union([z.boolean(), z.string(), z.undefined(), z.null()])
  .transform((value) => value === true || value === 'true' || value === undefined || value === null);

/** Pool records as RingCX takes them: the number in wire digits, its E.164 form alongside. */
export function withWireDnis(record: DnisPoolInput): DnisPoolInput {
  const dnis = toWireDnis(record.dnis);
  return { ...record, dnis, dnisE164: record.dnisE164 ?? `+${dnis}` };
}

/** A tracking number whose assigned number is in wire form. */
export function wireTracNumber(tracNumber: TracNumberInput): TracNumberInput {
  if (!tracNumber.assignedDnis) return tracNumber;
  const dnis = toWireDnis(tracNumber.assignedDnis.dnis);
  return { ...tracNumber, assignedDnis: { ...tracNumber.assignedDnis, dnis, dnisE164: `+${dnis}` } };
}
