import { loadConfig } from '../../shared/config';
import { lambdaHandler } from '../../shared/framework/handler';
import { sweep } from '../../shared/jobs/sweeper';
import { createRuntime } from '../../shared/runtime';

const runtime = createRuntime(loadConfig());

/** Scheduled: settles rows whose last delivery died, finishes jobs, re-sends owed events, reports stalls. */
export const handler = lambdaHandler(async () => sweep(runtime));
