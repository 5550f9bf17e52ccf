import { loadConfig } from '../../shared/config';
import { refreshRingCxToken } from '../../shared/auth/refreshToken';
import { lambdaHandler } from '../../shared/framework/handler';
import { createRuntime } from '../../shared/runtime';

const runtime = createRuntime(loadConfig());

/** Every 4 minutes (tokens live 5): renew the RingCX token in the secret. */
export const handler = lambdaHandler(async () => refreshRingCxToken(runtime));
