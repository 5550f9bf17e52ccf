import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * Powertools singletons, shared by every function in this bundle. Service name, log level and
 * metrics namespace come from POWERTOOLS_* variables that the stack sets per function.
 *
 * No Tracer: loading the X-Ray SDK installs async-hooks destroy tracking on every promise, which
 * measured at a fifth of the parser's CPU time (bench/results/parser.md), and X-Ray cannot see
 * inside undici's RingCX calls anyway. Latency per RingCX endpoint is a metric instead.
 */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'dnis-sync';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DnisSync', serviceName });
