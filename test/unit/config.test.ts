import { describe, expect, it } from 'vitest';
import { ExporterConfigSchema, FUNCTION_CONFIG_SCHEMAS, IntakeConfigSchema, loadFunctionConfig, ParserConfigSchema, WorkerConfigSchema } from '../../shared/config';
import { RESOURCE_NAMES_FOR_TESTS } from '../helpers/functionEnv';

describe('function config', () => {
  it.each(Object.keys(FUNCTION_CONFIG_SCHEMAS) as (keyof typeof FUNCTION_CONFIG_SCHEMAS)[])('the %s starts from the resource names alone; every other setting has a real default', (name) => {
    expect(() => loadFunctionConfig(FUNCTION_CONFIG_SCHEMAS[name], RESOURCE_NAMES_FOR_TESTS)).not.toThrow();
  });

  it('has no placeholder for a queue: a function that sends to one stops when its URL is missing', () => {
    const { WORK_QUEUE_URL: _work, PRIORITY_QUEUE_URL: _priority, EVENTS_DLQ_URL: _dlq, ...withoutQueues } = RESOURCE_NAMES_FOR_TESTS;
    expect(() => loadFunctionConfig(ParserConfigSchema, withoutQueues)).toThrow(/WORK_QUEUE_URL/);
    expect(() => loadFunctionConfig(WorkerConfigSchema, withoutQueues)).toThrow(/WORK_QUEUE_URL.*PRIORITY_QUEUE_URL|PRIORITY_QUEUE_URL.*WORK_QUEUE_URL/);
    expect(() => loadFunctionConfig(IntakeConfigSchema, withoutQueues)).toThrow(/EVENTS_DLQ_URL/);
    // The exporter sends to no queue, so it does not ask for one.
    expect(() => loadFunctionConfig(ExporterConfigSchema, withoutQueues)).not.toThrow();
  });

  it('parses MAINTENANCE_WINDOW with the rest, at cold start', () => {
    const window = { timeZone: 'America/New_York', days: ['sat'], start: '01:00', end: '05:00' };
    const config = loadFunctionConfig(WorkerConfigSchema, { ...RESOURCE_NAMES_FOR_TESTS, MAINTENANCE_WINDOW: JSON.stringify(window) });
    expect(config.MAINTENANCE_WINDOW).toMatchObject({ timeZone: 'America/New_York', start: '01:00', end: '05:00' });
    expect(loadFunctionConfig(WorkerConfigSchema, RESOURCE_NAMES_FOR_TESTS).MAINTENANCE_WINDOW).toBeUndefined();
    expect(() => loadFunctionConfig(WorkerConfigSchema, { ...RESOURCE_NAMES_FOR_TESTS, MAINTENANCE_WINDOW: JSON.stringify({ ...window, timeZone: 'Mars/Olympus' }) })).toThrow(/MAINTENANCE_WINDOW/);
  });
});
