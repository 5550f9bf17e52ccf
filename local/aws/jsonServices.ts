import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Secrets Manager and EventBridge over their real wire protocol (AWS JSON 1.1, `X-Amz-Target`),
 * for the handful of actions this system uses. No npm package emulates either; the AWS SDK talks to
 * this server exactly as it talks to AWS.
 */

export interface StoredSecret {
  arn: string;
  name: string;
  versions: { id: string; value: string; stages: string[]; created: number }[];
}

export interface PutEvent {
  id: string;
  time: string;
  source: string;
  detailType: string;
  detail: unknown;
  bus: string;
  /** The EventBridge event envelope, as a rule target receives it. */
  envelope: Record<string, unknown>;
}

/** AWSCURRENT leaves its version, which becomes AWSPREVIOUS (taking that label from its holder). */
function moveCurrent(secret: StoredSecret): void {
  for (const version of secret.versions) {
    if (version.stages.includes('AWSPREVIOUS')) version.stages = version.stages.filter((s) => s !== 'AWSPREVIOUS');
    if (version.stages.includes('AWSCURRENT')) version.stages = [...version.stages.filter((s) => s !== 'AWSCURRENT'), 'AWSPREVIOUS'];
  }
}

class ServiceError extends Error {
  constructor(readonly type: string, message: string, readonly status = 400) {
    super(message);
  }
}

export class LocalJsonServices {
  readonly secrets = new Map<string, StoredSecret>();
  readonly events: PutEvent[] = [];
  /** Called for every event put on a bus, in order: the local stand-in for rules. */
  readonly subscribers: ((event: PutEvent) => void | Promise<void>)[] = [];
  private server: Server | undefined;
  url = '';
  /** For tests: the next N events of a detail type are refused, as a failing bus refuses entries. */
  readonly refusals = new Map<string, number>();
  /** A secret value is never logged; this counts reads for tests. */
  readonly stats = { getSecretValue: 0, putSecretValue: 0 };

  async start(port = 0): Promise<string> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const target = String(req.headers['x-amz-target'] ?? '');
      try {
        const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
        const result = await this.dispatch(target, body);
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(result));
      } catch (error) {
        const e = error instanceof ServiceError ? error : new ServiceError('InternalFailure', String(error), 500);
        res.writeHead(e.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': e.type });
        res.end(JSON.stringify({ __type: e.type, message: e.message }));
      }
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Creates or replaces a secret with one AWSCURRENT version. */
  setSecret(name: string, value: string): StoredSecret {
    const secret: StoredSecret = {
      arn: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-AbCdEf`,
      name,
      versions: [{ id: randomUUID(), value, stages: ['AWSCURRENT'], created: Date.now() }],
    };
    this.secrets.set(name, secret);
    return secret;
  }

  currentSecretValue(name: string): string | undefined {
    return this.secrets.get(name)?.versions.find((v) => v.stages.includes('AWSCURRENT'))?.value;
  }

  private find(id: unknown): StoredSecret {
    const secret = [...this.secrets.values()].find((s) => s.name === id || s.arn === id);
    if (!secret) throw new ServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  }

  private async dispatch(target: string, body: Record<string, unknown>): Promise<unknown> {
    switch (target) {
      case 'secretsmanager.CreateSecret': {
        if (this.secrets.has(String(body.Name))) throw new ServiceError('ResourceExistsException', 'the secret already exists');
        const secret = this.setSecret(String(body.Name), String(body.SecretString ?? ''));
        return { ARN: secret.arn, Name: secret.name, VersionId: secret.versions[0]?.id };
      }
      case 'secretsmanager.GetSecretValue': {
        this.stats.getSecretValue += 1;
        const secret = this.find(body.SecretId);
        const stage = String(body.VersionStage ?? 'AWSCURRENT');
        const version = body.VersionId
          ? secret.versions.find((v) => v.id === body.VersionId)
          : secret.versions.find((v) => v.stages.includes(stage));
        if (!version) throw new ServiceError('ResourceNotFoundException', 'no such version');
        return { ARN: secret.arn, Name: secret.name, SecretString: version.value, VersionId: version.id, VersionStages: version.stages, CreatedDate: version.created / 1000 };
      }
      case 'secretsmanager.PutSecretValue': {
        this.stats.putSecretValue += 1;
        const secret = this.find(body.SecretId);
        const id = String(body.ClientRequestToken ?? randomUUID());
        const existing = secret.versions.find((v) => v.id === id);
        if (existing) {
          if (existing.value !== body.SecretString) throw new ServiceError('ResourceExistsException', 'a version with this ClientRequestToken exists with another value');
          return { ARN: secret.arn, Name: secret.name, VersionId: id, VersionStages: existing.stages };
        }
        // A label sits on one version at a time; only a write that takes AWSCURRENT demotes the old one.
        const stages = Array.isArray(body.VersionStages) && body.VersionStages.length > 0 ? body.VersionStages.map(String) : ['AWSCURRENT'];
        if (stages.includes('AWSCURRENT')) moveCurrent(secret);
        for (const version of secret.versions) version.stages = version.stages.filter((s) => !stages.includes(s));
        secret.versions.push({ id, value: String(body.SecretString ?? ''), stages, created: Date.now() });
        return { ARN: secret.arn, Name: secret.name, VersionId: id, VersionStages: stages };
      }
      case 'secretsmanager.UpdateSecretVersionStage': {
        const secret = this.find(body.SecretId);
        const stage = String(body.VersionStage ?? '');
        const holder = secret.versions.find((v) => v.stages.includes(stage));
        // The compare-and-set rotation relies on: moving a label off a version the caller did not name fails.
        if (holder && body.MoveToVersionId && holder.id !== body.MoveToVersionId && holder.id !== body.RemoveFromVersionId) {
          throw new ServiceError(
            'InvalidParameterException',
            `The staging label ${stage} is currently attached to version ${holder.id}, but you didn't specify it in RemoveFromVersionId.`,
          );
        }
        if (body.RemoveFromVersionId && holder?.id !== body.RemoveFromVersionId) {
          throw new ServiceError('InvalidParameterException', `The staging label ${stage} is not attached to version ${String(body.RemoveFromVersionId)}.`);
        }
        const target = body.MoveToVersionId ? secret.versions.find((v) => v.id === body.MoveToVersionId) : undefined;
        if (body.MoveToVersionId && !target) throw new ServiceError('ResourceNotFoundException', 'no such version');
        if (stage === 'AWSCURRENT' && target && holder !== target) moveCurrent(secret);
        else if (holder) holder.stages = holder.stages.filter((s) => s !== stage);
        if (target && !target.stages.includes(stage)) target.stages.push(stage);
        return { ARN: secret.arn, Name: secret.name };
      }
      case 'secretsmanager.DescribeSecret': {
        const secret = this.find(body.SecretId);
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionIdsToStages: Object.fromEntries(secret.versions.map((v) => [v.id, v.stages])),
        };
      }
      case 'AWSEvents.PutEvents': {
        const entries = Array.isArray(body.Entries) ? (body.Entries as Record<string, unknown>[]) : [];
        const results = [];
        for (const entry of entries) {
          if (!entry.Source || !entry.DetailType || typeof entry.Detail !== 'string') {
            results.push({ ErrorCode: 'MalformedDetail', ErrorMessage: 'Source, DetailType and a JSON Detail are required' });
            continue;
          }
          let detail: unknown;
          try {
            detail = JSON.parse(entry.Detail);
          } catch {
            results.push({ ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is not valid JSON' });
            continue;
          }
          const refusalsLeft = this.refusals.get(String(entry.DetailType)) ?? 0;
          if (refusalsLeft > 0) {
            this.refusals.set(String(entry.DetailType), refusalsLeft - 1);
            results.push({ ErrorCode: 'InternalFailure', ErrorMessage: 'the bus refused the entry' });
            continue;
          }
          const id = randomUUID();
          const time = new Date().toISOString();
          const bus = String(entry.EventBusName ?? 'default');
          const event: PutEvent = {
            id,
            time,
            source: String(entry.Source),
            detailType: String(entry.DetailType),
            detail,
            bus,
            envelope: { version: '0', id, 'detail-type': entry.DetailType, source: entry.Source, account: '000000000000', time, region: 'us-east-1', resources: [], detail },
          };
          this.events.push(event);
          for (const subscriber of this.subscribers) await subscriber(event);
          results.push({ EventId: id });
        }
        return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
      }
      default:
        throw new ServiceError('UnknownOperationException', `${target || 'no X-Amz-Target'} is not served here`);
    }
  }
}
