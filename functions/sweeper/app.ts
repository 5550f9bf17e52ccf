import { loadFunctionConfig, SweeperConfigSchema } from '../../shared/config';
import { createDependencies } from '../../shared/dependencies';
import { scheduledHandler } from '../../shared/lambda/handler';
import { sweep } from '../../shared/sweeper/sweeper';

const deps = createDependencies(loadFunctionConfig(SweeperConfigSchema));

/** Scheduled: settles rows whose last delivery died, finishes jobs, re-sends owed events, reports stalls. */
export const handler = scheduledHandler(deps, (_event, rt) => sweep(rt));
