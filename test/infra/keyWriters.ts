/**
 * Walks a synthesized template for everything encrypted with a KMS key and for every principal
 * that writes to it, and reports each writer the key would refuse. Writers are found from the
 * template itself (IAM statements, rule and schedule DLQs, async-invocation destinations, alarm
 * actions, rule targets, log groups), so a resource or writer added later is checked without
 * changing this file.
 */

type Json = any;
export interface Template {
  Resources: Record<string, { Type: string; Properties?: Json }>;
}

export interface Environment {
  account: string;
  region: string;
  partition?: string;
}

/** Values CloudFormation substitutes at deploy time, for the parts of a template a test must read. */
export function resolve(value: Json, env: Environment): Json {
  if (typeof value === 'string' || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => resolve(v, env));
  if ('Ref' in value) {
    const pseudo: Record<string, string> = {
      'AWS::Partition': env.partition ?? 'aws',
      'AWS::Region': env.region,
      'AWS::AccountId': env.account,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return pseudo[value.Ref] ?? value;
  }
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, Json[]];
    const resolved = parts.map((p) => resolve(p, env));
    return resolved.every((p) => typeof p === 'string') ? resolved.join(separator) : value;
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, env)]));
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** IAM wildcard match (`*`, `?`), case-insensitive as IAM actions are. */
export function wildcardMatch(pattern: string, value: string, caseSensitive = false): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, caseSensitive ? '' : 'i');
  return regex.test(value);
}

/** True when `value` (a template fragment) points at resource `logicalId` by Ref or GetAtt. */
export function refersTo(value: Json, logicalId: string): boolean {
  const text = JSON.stringify(value ?? null);
  return text.includes(`{"Ref":"${logicalId}"}`) || text.includes(`{"Fn::GetAtt":["${logicalId}",`);
}

interface Statement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  Principal?: Json;
  Resource?: Json;
  Condition?: Record<string, Record<string, Json>>;
}

const allows = (statement: Statement, action: string) => statement.Effect === 'Allow' && asArray(statement.Action).some((a) => wildcardMatch(a, action));

/** Statements of every IAM policy attached to a role, inline or managed by the stack. */
function roleStatements(template: Template, roleId: string): Statement[] {
  const statements: Statement[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type === 'AWS::IAM::Policy' && asArray(resource.Properties?.Roles).some((r: Json) => refersTo(r, roleId))) {
      statements.push(...asArray<Statement>(resource.Properties?.PolicyDocument?.Statement));
    }
  }
  for (const policy of asArray<Json>(template.Resources[roleId]?.Properties?.Policies)) statements.push(...asArray<Statement>(policy.PolicyDocument?.Statement));
  return statements;
}

/** The role a Lambda function runs as. */
function functionRole(template: Template, functionId: string): string | undefined {
  const role = template.Resources[functionId]?.Properties?.Role;
  return role?.['Fn::GetAtt']?.[0];
}

/** Which resources each encryption property points at, by resource type. */
const ENCRYPTION_KEY: Record<string, (p: Json) => Json> = {
  'AWS::Logs::LogGroup': (p) => p.KmsKeyId,
  'AWS::SQS::Queue': (p) => p.KmsMasterKeyId,
  'AWS::SNS::Topic': (p) => p.KmsMasterKeyId,
  'AWS::SecretsManager::Secret': (p) => p.KmsKeyId,
  'AWS::S3::Bucket': (p) => p.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.KMSMasterKeyID,
  'AWS::DynamoDB::GlobalTable': (p) => p.SSESpecification?.SSEType === 'KMS' && p.Replicas?.[0]?.SSESpecification?.KMSMasterKeyId,
  'AWS::DynamoDB::Table': (p) => p.SSESpecification?.KMSMasterKeyId,
};

/** Actions by which a role writes to a resource of each type (and so needs a data key). */
const WRITE_ACTIONS: Record<string, string[]> = {
  'AWS::SQS::Queue': ['sqs:SendMessage'],
  'AWS::SNS::Topic': ['sns:Publish'],
  'AWS::SecretsManager::Secret': ['secretsmanager:PutSecretValue'],
  'AWS::S3::Bucket': ['s3:PutObject'],
  'AWS::DynamoDB::GlobalTable': ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
  'AWS::DynamoDB::Table': ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
};

export interface EncryptedResource {
  id: string;
  type: string;
  keyId: string;
}

export type Writer = { kind: 'role'; roleId: string; via: string } | { kind: 'service'; service: string; sourceArn: string; via: string };

export function encryptedResources(template: Template): EncryptedResource[] {
  const keys = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::KMS::Key').map(([id]) => id);
  const found: EncryptedResource[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const keyRef = ENCRYPTION_KEY[resource.Type]?.(resource.Properties ?? {});
    const keyId = keyRef ? keys.find((k) => refersTo(keyRef, k)) : undefined;
    if (keyId) found.push({ id, type: resource.Type, keyId });
  }
  return found;
}

/** Everyone who writes to `target`, as found in the template. */
export function writersOf(template: Template, target: EncryptedResource, env: Environment): Writer[] {
  const writers: Writer[] = [];
  const { account, region } = env;
  const partition = env.partition ?? 'aws';
  const props = (id: string) => template.Resources[id]?.Properties ?? {};

  if (target.type === 'AWS::Logs::LogGroup') {
    const name = props(target.id).LogGroupName ?? `${target.id}-generated-name`;
    writers.push({ kind: 'service', service: `logs.${region}.amazonaws.com`, sourceArn: `arn:${partition}:logs:${region}:${account}:log-group:${name}`, via: 'log delivery' });
  }
  for (const [id, resource] of Object.entries(template.Resources)) {
    const p = resource.Properties ?? {};
    // Roles granted a write action on the resource.
    if (resource.Type === 'AWS::IAM::Policy') {
      const writes = asArray<Statement>(p.PolicyDocument?.Statement).some((s) => (WRITE_ACTIONS[target.type] ?? []).some((a) => allows(s, a)) && refersTo(s.Resource, target.id));
      if (writes) for (const role of asArray<Json>(p.Roles)) if (role.Ref) writers.push({ kind: 'role', roleId: role.Ref, via: `IAM policy ${id}` });
    }
    // EventBridge rules: a target that is the resource, or its DLQ.
    if (resource.Type === 'AWS::Events::Rule') {
      // Ref of an event bus is its name; rules of the default bus have no bus in their ARN.
      const bus = p.EventBusName === undefined ? undefined : typeof p.EventBusName === 'string' ? p.EventBusName : resolve(props(p.EventBusName.Ref).Name, env);
      const ruleArn = `arn:${partition}:events:${region}:${account}:rule/${bus ? `${bus}/` : ''}${p.Name ?? `${id}-generated-name`}`;
      for (const t of asArray<Json>(p.Targets)) {
        if (refersTo(t.Arn, target.id)) {
          // A target with a role is written as that role; otherwise EventBridge writes as itself.
          const roleId = t.RoleArn?.['Fn::GetAtt']?.[0];
          writers.push(roleId ? { kind: 'role', roleId, via: `rule ${id} target` } : { kind: 'service', service: 'events.amazonaws.com', sourceArn: ruleArn, via: `rule ${id} target` });
        }
        if (refersTo(t.DeadLetterConfig, target.id)) writers.push({ kind: 'service', service: 'events.amazonaws.com', sourceArn: ruleArn, via: `rule ${id} DLQ` });
      }
    }
    // Scheduler writes a schedule's DLQ as the schedule's role.
    if (resource.Type === 'AWS::Scheduler::Schedule' && refersTo(p.Target?.DeadLetterConfig, target.id)) {
      writers.push({ kind: 'role', roleId: p.Target.RoleArn['Fn::GetAtt'][0], via: `schedule ${id} DLQ` });
    }
    // Lambda writes async-invocation destinations as the function's role.
    if (resource.Type === 'AWS::Lambda::EventInvokeConfig' && (refersTo(p.DestinationConfig?.OnFailure, target.id) || refersTo(p.DestinationConfig?.OnSuccess, target.id))) {
      const roleId = functionRole(template, p.FunctionName?.Ref);
      if (roleId) writers.push({ kind: 'role', roleId, via: `async invocation destination ${id}` });
    }
    // CloudWatch alarms publish to their action topics.
    if (resource.Type === 'AWS::CloudWatch::Alarm' && refersTo([p.AlarmActions, p.OKActions, p.InsufficientDataActions], target.id)) {
      writers.push({ kind: 'service', service: 'cloudwatch.amazonaws.com', sourceArn: `arn:${partition}:cloudwatch:${region}:${account}:alarm:${p.AlarmName ?? `${id}-generated-name`}`, via: `alarm ${id}` });
    }
  }
  return writers;
}

const DATA_KEY_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'];

function conditionHolds(condition: Statement['Condition'], context: Record<string, string>): boolean {
  for (const [operator, entries] of Object.entries(condition ?? {})) {
    for (const [key, expected] of Object.entries(entries)) {
      const actual = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
      if (actual === undefined) return false;
      const values = asArray<string>(expected);
      const ok =
        operator === 'StringEquals' || operator === 'ArnEquals'
          ? values.includes(actual)
          : operator === 'StringLike' || operator === 'ArnLike'
            ? values.some((v) => wildcardMatch(v, actual, true))
            : false;
      if (!ok) return false;
    }
  }
  return true;
}

/**
 * Problems with one writer: a service must be admitted by the key policy itself, under conditions
 * naming this account and resource; a role needs the data-key actions in its own policies, which
 * work only while the key policy delegates to the account.
 */
export function writerProblems(template: Template, resource: EncryptedResource, writer: Writer, env: Environment): string[] {
  const keyPolicy = asArray<Statement>(template.Resources[resource.keyId]?.Properties?.KeyPolicy?.Statement).map((s) => resolve(s, env) as Statement);
  const problems: string[] = [];
  const where = `${resource.type} ${resource.id} (${writer.via})`;
  if (writer.kind === 'service') {
    const context: Record<string, string> = { 'aws:SourceAccount': env.account, 'aws:SourceArn': writer.sourceArn };
    if (writer.service.startsWith('logs.')) context['kms:EncryptionContext:aws:logs:arn'] = writer.sourceArn;
    for (const action of DATA_KEY_ACTIONS) {
      const candidates = keyPolicy.filter((s) => allows(s, action) && asArray(s.Principal?.Service).includes(writer.service));
      if (candidates.length === 0) problems.push(`${where}: key policy does not admit ${writer.service} to ${action}`);
      else if (!candidates.some((s) => s.Condition && Object.keys(s.Condition).length > 0 && conditionHolds(s.Condition, context))) {
        problems.push(`${where}: key policy admits ${writer.service} to ${action} without a condition that names this account and resource`);
      }
    }
    return problems;
  }
  const delegates = keyPolicy.some((s) => allows(s, 'kms:GenerateDataKey') && JSON.stringify(s.Principal ?? {}).includes(`:iam::${env.account}:root`) && !s.Condition);
  if (!delegates) problems.push(`${where}: key policy does not delegate to account IAM, so role ${writer.roleId} cannot use it`);
  for (const action of DATA_KEY_ACTIONS) {
    const granted = roleStatements(template, writer.roleId).some((s) => allows(s, action) && (refersTo(s.Resource, resource.keyId) || asArray(s.Resource).includes('*')));
    if (!granted) problems.push(`${where}: role ${writer.roleId} may not ${action} with key ${resource.keyId}`);
  }
  return problems;
}

export function keyWriterProblems(template: Template, env: Environment): { resources: EncryptedResource[]; writers: number; problems: string[] } {
  const resources = encryptedResources(template);
  let writers = 0;
  const problems: string[] = [];
  for (const resource of resources) {
    for (const writer of writersOf(template, resource, env)) {
      writers += 1;
      problems.push(...writerProblems(template, resource, writer, env));
    }
  }
  return { resources, writers, problems };
}
