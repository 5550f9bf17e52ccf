import { z } from 'zod';

/*
 * Schemas from the RingCX OpenAPI spec (DnisPool, AssignedDnis, DnisSearchResultDTO, TracGroup,
 * TracNumber). The spec marks no field as required and RingCX adds fields over time, so every field
 * is optional, nulls are accepted, and unknown fields are kept (looseObject) rather than rejected.
 * These schemas are the single source of the client's types.
 */

const str = z.string().nullish();
const bool = z.boolean().nullish();
const int = z.number().int().nullish();
/** Ids that the spec types as string but that some responses serialise as numbers. */
const idString = z.union([z.string(), z.number()]).transform(String).nullish();
/** DateTime is a Joda object in the spec but a string like 2020-05-15T20:38:13.686+0000 on the wire. */
const dateTime = z.union([z.string(), z.number(), z.looseObject({})]).nullish();

export const GateSkinnySchema = z.looseObject({
  accountId: idString,
  gateId: int,
  gateName: str,
  gateGroupId: int,
  groupId: int,
  isActive: bool,
});

export const VisualIvrSkinnySchema = z.looseObject({
  accountId: idString,
  visualIvrId: int,
  visualIvrName: str,
  visualIvrDesc: str,
  visualIvrGroupId: int,
  isActive: bool,
});

/** Note the spec's field name: cloudProfileId, not cloudRouteProfileId. */
export const CloudRouteProfileSkinnySchema = z.looseObject({
  accountId: idString,
  cloudProfileId: int,
  profileName: str,
  cloudGroupId: int,
  isActive: bool,
});

export const TracNumberSkinnySchema = z.looseObject({
  accountId: idString,
  tracId: int,
  tracGroupId: int,
  description: str,
});

export const AssignedDnisSchema = z.looseObject({
  dnis: str,
  dnisE164: str,
  originatingDnis: str,
  dnisDescription: str,
  isActive: bool,
  startDate: dateTime,
  endDate: dateTime,
  endPointId: idString,
  endPointType: str,
  gate: GateSkinnySchema.nullish(),
  visualIvr: VisualIvrSkinnySchema.nullish(),
  cloudRouteProfile: CloudRouteProfileSkinnySchema.nullish(),
  tracNumber: TracNumberSkinnySchema.nullish(),
});
export type AssignedDnis = z.infer<typeof AssignedDnisSchema>;

export const DnisPoolSchema = z.looseObject({
  dnis: str,
  dnisE164: str,
  originatingDnis: str,
  active: bool,
  dnisDescription: str,
  dnisCategory: str,
  notes: str,
  reservedAccountId: idString,
  assignedDnis: AssignedDnisSchema.nullish(),
  carrier: str,
  vendorId: str,
  resporg: str,
  inboundContext: str,
  customAppString: str,
  smsEnabled: bool,
  dnisManagedByRC: bool,
  phoneNumbersI18nEnabled: bool,
  dnisState: str,
  dateCreated: dateTime,
  lastModified: dateTime,
  lastModifiedBy: str,
});
export type DnisPool = z.infer<typeof DnisPoolSchema>;

/** What we send when creating or updating pool records. `reservedAccountId` is a string on the wire. */
export interface DnisPoolInput {
  dnis: string;
  dnisE164?: string;
  reservedAccountId?: string;
  dnisDescription?: string;
  dnisCategory?: string;
  notes?: string;
  active?: boolean;
}

export interface AssignedDnisInput {
  dnis: string;
  isActive: boolean;
  dnisDescription?: string;
}

const DnisRecordsSchema = z.array(DnisPoolSchema);

/**
 * The guide documents `{records, totalElements}`; the spec's DnisSearchResultDTO groups records per
 * account under `entries` with `totalCount`. Both are accepted and flattened.
 */
export const DnisSearchResultSchema = z
  .union([
    // Envelopes are plain objects (unknown envelope fields are dropped); the records keep theirs.
    z.object({
      entries: z.record(z.string(), z.object({ name: str, records: DnisRecordsSchema.nullish() })),
      totalCount: z.number().nullish(),
    }),
    z.object({ records: DnisRecordsSchema, totalElements: z.number().nullish() }),
    DnisRecordsSchema,
  ])
  .transform((value): { records: DnisPool[]; total: number | undefined } => {
    if (Array.isArray(value)) return { records: value, total: value.length };
    if ('entries' in value) {
      const records = Object.entries(value.entries).flatMap(([accountId, group]) =>
        (group.records ?? []).map((record) => ({ reservedAccountId: accountId, ...record })),
      );
      return { records, total: value.totalCount ?? undefined };
    }
    return { records: value.records, total: value.totalElements ?? undefined };
  });
export type DnisSearchResult = z.output<typeof DnisSearchResultSchema>;

export const DnisListPreviewResponseSchema = z.looseObject({
  records: z.array(z.unknown()).nullish(),
  uploadStatus: z
    .looseObject({
      errorCode: str,
      errorMessage: z.array(z.string()).nullish(),
      totalRecords: z.number().nullish(),
      validRecords: z.number().nullish(),
      validated: bool,
    })
    .nullish(),
});
export type DnisListPreviewResponse = z.infer<typeof DnisListPreviewResponseSchema>;

/** `updatedRows` is a string in the spec; do not depend on it being numeric. */
export const DnisBulkUpdateResponseSchema = z.looseObject({
  message: str,
  status: str,
  updatedRows: z.union([z.string(), z.number()]).transform(String).nullish(),
});
export type DnisBulkUpdateResponse = z.infer<typeof DnisBulkUpdateResponseSchema>;

export const TracPermissionSchema = z.string();

export const TracNumberSchema = z.looseObject({
  tracId: int,
  accountId: idString,
  description: str,
  assignedDnis: AssignedDnisSchema.nullish(),
  billingCode: str,
  outboundCallerId: str,
  openType: str,
  closeType: str,
  permissions: z.array(TracPermissionSchema).nullish(),
  tracGroup: z.looseObject({ tracGroupId: int, groupName: str }).nullish(),
});
export type TracNumber = z.infer<typeof TracNumberSchema>;

export const TracGroupSchema = z.looseObject({
  tracGroupId: int,
  groupName: str,
  isDefault: bool,
  permissions: z.array(TracPermissionSchema).nullish(),
  tracNumbers: z.array(TracNumberSchema).nullish(),
});
export type TracGroup = z.infer<typeof TracGroupSchema>;

export interface TracNumberInput {
  tracId?: number;
  description?: string;
  assignedDnis?: AssignedDnisInput & { dnisE164?: string };
  [field: string]: unknown;
}

export const AccountSchema = z.looseObject({ accountId: idString, accountName: str, mainAccountId: idString });

/** RingCX error bodies (`Error` / `Errors` in the spec, plus the `errorCode` the guides show). */
export const RingCxErrorBodySchema = z.looseObject({
  errorCode: str,
  generalMessage: str,
  message: str,
  details: z.unknown().optional(),
  requestUri: str,
  timestamp: z.number().nullish(),
  validationErrors: z
    .array(z.looseObject({ attributeName: str, message: str, value: z.unknown().optional() }))
    .nullish(),
});

/** AccessTokenUserDetails: the answer of the RC-token exchange and of refresh. */
export const RingCxTokenResponseSchema = z.looseObject({
  accessToken: z.string().min(1),
  refreshToken: z.string().nullish(),
  tokenType: str,
  mainAccountId: idString,
});
export type RingCxTokenResponse = z.infer<typeof RingCxTokenResponseSchema>;

/** RingCentral platform TokenInfo (step 1 of the JWT login). */
export const RingCentralTokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: str,
  expires_in: z.number().nullish(),
  refresh_token: str,
});
