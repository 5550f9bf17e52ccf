import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * Powertools singletons, shared by every function in this bundle. Service name, log level and
 * metrics namespace come from POWERTOOLS_* variables that the stack sets per function.
 */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'dnis-sync';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DnisSync', serviceName });
export const tracer = new Tracer({ serviceName });
