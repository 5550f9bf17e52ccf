import { IntakeConfigSchema, loadFunctionConfig } from '../../shared/config';
import { createDependencies } from '../../shared/dependencies';
import { intakeReassignment } from '../../shared/intake/intake';
import { eventBridgeHandler } from '../../shared/lambda/handler';

const deps = createDependencies(loadFunctionConfig(IntakeConfigSchema));

/** The bus rule's target: validate a reassignment request and queue it with priority. */
export const handler = eventBridgeHandler(deps, (event, rt) => intakeReassignment(rt, event));
