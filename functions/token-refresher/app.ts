import { loadFunctionConfig, RefresherConfigSchema } from '../../shared/config';
import { createDependencies } from '../../shared/dependencies';
import { scheduledHandler } from '../../shared/lambda/handler';
import { refreshRingCxToken } from '../../shared/tokens/refreshToken';

const deps = createDependencies(loadFunctionConfig(RefresherConfigSchema));

/** Every 4 minutes (tokens live 5): renew the RingCX token in the secret. */
export const handler = scheduledHandler(deps, (_event, rt) => refreshRingCxToken(rt));
