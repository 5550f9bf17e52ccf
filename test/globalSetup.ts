import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../local/aws/dynamodbLocal';
import { demoTenant } from '../local/ringcx-simulator/fixtures';

/** Secret values the suite uses, and the shapes of every token the simulator issues. */
function secretPatterns(): RegExp[] {
  const seed = demoTenant();
  const literal = (value: string) => new RegExp(value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return [
    ...seed.apiTokens.map((t) => literal(t.token)),
    ...seed.apps.flatMap((a) => [literal(a.clientSecret), literal(a.jwt)]),
    literal('secret-value-xyz'),
    /eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9\.[A-Za-z0-9_-]+/, // simulator access tokens (JWT)
    /\brt-[0-9a-f]{8}-[0-9a-f]{4}-/, // RingCX refresh tokens
    /\brc-[0-9a-f]{8}-[0-9a-f]{4}-/, // RingCentral access tokens
    /Bearer [A-Za-z0-9._-]{8,}/,
  ];
}

/**
 * One DynamoDB Local JVM for the whole run (each test file makes its own table in it), and a scan
 * of every log line the run produced: a secret or token in a log fails the run.
 */
export default async function setup(project: TestProject) {
  const dynamo = await startDynamoDbLocal();
  const logDir = mkdtempSync(join(tmpdir(), 'dnis-sync-logs-'));
  project.provide('dynamoEndpoint', dynamo.endpoint);
  project.provide('logDir', logDir);
  return async () => {
    await dynamo.stop();
    const patterns = secretPatterns();
    let lines = 0;
    const leaks: string[] = [];
    for (const name of readdirSync(logDir)) {
      for (const line of readFileSync(join(logDir, name), 'utf8').split('\n')) {
        lines += 1;
        const hit = patterns.find((p) => p.test(line));
        if (hit) leaks.push(`${name}: ${hit} in ${line.slice(0, 160)}`);
      }
    }
    rmSync(logDir, { recursive: true, force: true });
    if (leaks.length > 0) {
      // vitest reports a throwing teardown but still exits 0; the exit code must say it too.
      process.exitCode = 1;
      throw new Error(`secrets or tokens found in test logs:\n${leaks.slice(0, 10).join('\n')}`);
    }
    console.log(`log scan: ${lines} log lines checked, no secret or token found`);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    logDir: string;
  }
}
