import type { GenericLogger } from '@aws-lambda-powertools/commons/types';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../contracts';

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

/**
 * Metrics' own diagnostics go through the structured logger rather than a bare console, minus one:
 * an invocation that adds no metric (a duplicate delivery, a refresher run with nothing to do) is
 * normal here, and the "No application metrics to publish" warning Metrics prints for each one
 * would land in every run's output, `npm start`'s progress line included.
 */
export const EMPTY_FLUSH_WARNING = 'No application metrics to publish';

const metricsDiagnostics: GenericLogger = {
  debug: (message: unknown) => logger.debug(String(message)),
  info: (message: unknown) => logger.info(String(message)),
  warn: (message: unknown) => {
    if (typeof message === 'string' && message.startsWith(EMPTY_FLUSH_WARNING)) return;
    logger.warn(String(message));
  },
  error: (message: unknown) => logger.error(String(message)),
};

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
  serviceName,
  logger: metricsDiagnostics,
});
