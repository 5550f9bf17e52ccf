import { loadConfig } from '../../shared/config';
import { lambdaHandler } from '../../shared/lambda/handler';
import { sweep } from '../../shared/sweeper/sweeper';
import { createDependencies } from '../../shared/dependencies';

const deps = createDependencies(loadConfig());

/** Scheduled: settles rows whose last delivery died, finishes jobs, re-sends owed events, reports stalls. */
export const handler = lambdaHandler(async () => sweep(deps));
