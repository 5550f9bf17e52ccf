import type { EventBridgeEvent } from 'aws-lambda';
import { loadConfig } from '../../shared/config';
import { lambdaHandler } from '../../shared/lambda/handler';
import { intakeReassignment } from '../../shared/intake/intake';
import { createDependencies } from '../../shared/dependencies';

const deps = createDependencies(loadConfig());

/** The bus rule's target: validate a reassignment request and queue it with priority. */
export const handler = lambdaHandler(async (event: EventBridgeEvent<string, unknown>) => intakeReassignment(deps, event));
