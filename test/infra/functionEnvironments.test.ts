import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { STAGES } from '../../infra/config';
import { DnisSyncStack } from '../../infra/stack';
import { FUNCTION_CONFIG_SCHEMAS, loadFunctionConfig } from '../../shared/config';
import { type FunctionName, SERVICE_NAMES } from '../../shared/contracts';

/**
 * Each function validates its environment at cold start (shared/config.ts). This reads every
 * function's environment from the synthesized template and validates it against that function's
 * schema, so a variable the stack forgets fails here, not as a function that never starts.
 */

/** Values CDK leaves to CloudFormation (a queue URL, a table name, the secret's ARN) are objects in the template. */
const UNRESOLVED = 'resolved-at-deploy-time';

function functionEnvironments(stage: keyof typeof STAGES): Map<FunctionName, Record<string, string>> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new DnisSyncStack(app, `DnisSync-${stage}`, { config: STAGES[stage], env: { account: '123456789012', region: 'us-east-1' } });
  const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')) as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }[];
  const byService = new Map<string, FunctionName>(Object.entries(SERVICE_NAMES).map(([name, service]) => [service, name as FunctionName]));
  const environments = new Map<FunctionName, Record<string, string>>();
  for (const f of functions) {
    const variables = f.Properties.Environment?.Variables;
    const name = byService.get(String(variables?.POWERTOOLS_SERVICE_NAME));
    if (!variables || !name) continue;
    environments.set(name, Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, typeof value === 'string' ? value : UNRESOLVED])));
  }
  return environments;
}

describe.each(Object.keys(STAGES) as (keyof typeof STAGES)[])('function environments of stage %s', (stage) => {
  const environments = functionEnvironments(stage);

  it('has one function for each config schema', () => {
    expect([...environments.keys()].sort()).toEqual(Object.keys(FUNCTION_CONFIG_SCHEMAS).sort());
  });

  it.each(Object.keys(FUNCTION_CONFIG_SCHEMAS) as FunctionName[])('sets every variable the %s requires, each valid', (name) => {
    const env = environments.get(name);
    expect(env).toBeDefined();
    expect(() => loadFunctionConfig(FUNCTION_CONFIG_SCHEMAS[name], env)).not.toThrow();
  });

  it('would fail the function that lost a required variable (the check can fail)', () => {
    const { WORK_QUEUE_URL: _dropped, ...worker } = environments.get('worker') ?? {};
    expect(() => loadFunctionConfig(FUNCTION_CONFIG_SCHEMAS.worker, worker)).toThrow(/WORK_QUEUE_URL/);
    const { EVENTS_DLQ_URL: _alsoDropped, ...intake } = environments.get('intake') ?? {};
    expect(() => loadFunctionConfig(FUNCTION_CONFIG_SCHEMAS.intake, intake)).toThrow(/EVENTS_DLQ_URL/);
  });
});
