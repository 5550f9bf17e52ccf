import { Agent } from 'undici';
import { RingCxClient } from '../../shared/ringcx/client';
import { RateLimiter } from '../../shared/ringcx/rateLimiter';
import { staticTokenProvider, type TokenProvider } from '../../shared/ringcx/auth/tokenProvider';
import type { CallRecord, TransportOptions } from '../../shared/ringcx/transport';
import type { RingCxSimulator } from '../../local/ringcx-simulator/server';

export const DEMO_API_TOKEN = 'demo-api-token';
export const DEMO_JWT_CREDENTIALS = {
  clientId: 'demo-client-id',
  clientSecret: 'demo-client-secret',
  jwt: 'demo-jwt-credential',
};

export interface TestClient {
  client: RingCxClient;
  calls: CallRecord[];
  /** Every backoff the transport asked for, in order. */
  sleeps: number[];
}

/**
 * A client against the simulator whose sleeps are recorded and skipped, and whose jitter is fixed
 * at 0.5, so backoff values are exact and tests do not wait.
 */
export function testClient(sim: RingCxSimulator, overrides: Partial<TransportOptions> & { tokenProvider?: TokenProvider } = {}): TestClient {
  const calls: CallRecord[] = [];
  const sleeps: number[] = [];
  const client = new RingCxClient({
    baseUrl: sim.url,
    tokenProvider: staticTokenProvider({ name: 'x-auth-token', value: DEMO_API_TOKEN }),
    dispatcher: new Agent({ keepAliveTimeout: 1_000, connections: 8 }),
    timeoutMs: 2_000,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
    onCall: (call) => {
      calls.push(call);
      overrides.onCall?.(call);
    },
  });
  return { client, calls, sleeps };
}

export function limiterFor(budget: number, windowMs: number, burst?: number) {
  return new RateLimiter({ budget, windowMs, ...(burst ? { burst } : {}) });
}
