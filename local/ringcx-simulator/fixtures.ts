/** What a simulated tenant starts with. */
export interface TenantSeed {
  mainAccountId: string;
  accounts: { accountId: string; accountName: string }[];
  gates: { gateId: number; gateName: string; accountId: string; gateGroupId: number }[];
  visualIvrs: { visualIvrId: number; visualIvrName: string; accountId: string }[];
  cloudRouteProfiles: { cloudProfileId: number; profileName: string; accountId: string }[];
  tracGroups: { tracGroupId: number; groupName: string; accountId: string }[];
  /** Who may log in, and what each principal may touch. */
  principals: {
    id: string;
    /** Account ids this principal may read and change; `*` for all. */
    accounts: string[] | '*';
    /** Products refused with 403, e.g. `CLOUD_PROFILE`. */
    deniedProducts?: string[];
  }[];
  apps: { clientId: string; clientSecret: string; jwt: string; principal: string }[];
  apiTokens: { token: string; principal: string }[];
  pool?: {
    dnis: string;
    reservedAccountId: string;
    dnisDescription?: string;
    dnisCategory?: string;
    notes?: string;
    active?: boolean;
    assignment?: { type: 'gate' | 'visualIvr' | 'cloudRouteProfile'; id: number; dnisDescription?: string; isActive?: boolean };
  }[];
}

/**
 * The demo contact centre: two sub-accounts the admin may manage, one it may not (restricted,
 * to exercise 403), five queues, two Visual IVRs, a cloud route profile and two tracking groups.
 */
export function demoTenant(): TenantSeed {
  return {
    mainAccountId: '99990000',
    accounts: [
      { accountId: '99990001', accountName: 'Support' },
      { accountId: '99990002', accountName: 'Sales' },
      { accountId: '99990009', accountName: 'Restricted (legal hold)' },
    ],
    gates: [
      { gateId: 4501, gateName: 'Support - General', accountId: '99990001', gateGroupId: 45 },
      { gateId: 4502, gateName: 'Support - Billing', accountId: '99990001', gateGroupId: 45 },
      { gateId: 4503, gateName: 'Support - Technical', accountId: '99990001', gateGroupId: 45 },
      { gateId: 4504, gateName: 'Sales - Inbound', accountId: '99990002', gateGroupId: 46 },
      { gateId: 4505, gateName: 'Sales - Renewals', accountId: '99990002', gateGroupId: 46 },
      { gateId: 4909, gateName: 'Legal hold queue', accountId: '99990009', gateGroupId: 49 },
    ],
    visualIvrs: [
      { visualIvrId: 701, visualIvrName: 'Main menu', accountId: '99990001' },
      { visualIvrId: 702, visualIvrName: 'After hours', accountId: '99990001' },
    ],
    cloudRouteProfiles: [{ cloudProfileId: 801, profileName: 'Overflow to BPO', accountId: '99990002' }],
    tracGroups: [
      { tracGroupId: 901, groupName: 'Spring campaign', accountId: '99990002' },
      { tracGroupId: 902, groupName: 'Radio ads', accountId: '99990002' },
    ],
    principals: [
      { id: 'demo-admin', accounts: ['99990001', '99990002'] },
      { id: 'limited-admin', accounts: ['99990001'], deniedProducts: ['CLOUD_PROFILE'] },
    ],
    apps: [
      {
        clientId: 'demo-client-id',
        clientSecret: 'demo-client-secret',
        jwt: 'demo-jwt-credential',
        principal: 'demo-admin',
      },
    ],
    apiTokens: [
      { token: 'demo-api-token', principal: 'demo-admin' },
      { token: 'limited-api-token', principal: 'limited-admin' },
    ],
    pool: [
      {
        dnis: '12125550100',
        reservedAccountId: '99990001',
        dnisDescription: 'Support main line',
        assignment: { type: 'gate', id: 4501, dnisDescription: 'Support main line' },
      },
      {
        dnis: '12125550101',
        reservedAccountId: '99990001',
        dnisDescription: 'Billing line',
        assignment: { type: 'gate', id: 4502, dnisDescription: 'Billing line' },
      },
      { dnis: '12125550102', reservedAccountId: '99990001', dnisDescription: 'Spare' },
      {
        dnis: '12125550109',
        reservedAccountId: '99990009',
        dnisDescription: 'Legal hold',
        assignment: { type: 'gate', id: 4909 },
      },
    ],
  };
}

/**
 * `count` numbers for scale runs (a 250,000-number tenant), as seed pool entries: +1 646 2xx-xxxx
 * upwards (`firstNumber` moves the range), alternating between the demo admin's two accounts, every
 * third one unassigned and the rest on a queue of their account. Built in well under a second.
 */
export function inventoryNumbers(count: number, options: { firstNumber?: number; description?: string } = {}): NonNullable<TenantSeed['pool']> {
  const first = options.firstNumber ?? 16_462_000_000;
  const pool: NonNullable<TenantSeed['pool']> = new Array(count);
  for (let i = 0; i < count; i++) {
    const sales = i % 2 === 1;
    pool[i] = {
      dnis: String(first + i),
      reservedAccountId: sales ? '99990002' : '99990001',
      dnisDescription: `${options.description ?? 'Inventory'} ${i}`,
      ...(i % 3 === 0 ? {} : { assignment: { type: 'gate' as const, id: sales ? 4504 : 4501 } }),
    };
  }
  return pool;
}
