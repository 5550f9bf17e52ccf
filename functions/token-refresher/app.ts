import { loadConfig } from '../../shared/config';
import { refreshRingCxToken } from '../../shared/tokens/refreshToken';
import { lambdaHandler } from '../../shared/lambda/handler';
import { createDependencies } from '../../shared/dependencies';

const deps = createDependencies(loadConfig());

/** Every 4 minutes (tokens live 5): renew the RingCX token in the secret. */
export const handler = lambdaHandler(async () => refreshRingCxToken(deps));
