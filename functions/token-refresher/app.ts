import { loadConfig } from '../../shared/config';
import { refreshRingCxToken } from '../../shared/tokens/refreshToken';
import { lambdaHandler } from '../../shared/lambda/handler';
import { createRuntime } from '../../shared/dependencies';

const runtime = createRuntime(loadConfig());

/** Every 4 minutes (tokens live 5): renew the RingCX token in the secret. */
export const handler = lambdaHandler(async () => refreshRingCxToken(runtime));
