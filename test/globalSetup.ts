import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../local/aws/dynamodbLocal';

/** One DynamoDB Local JVM for the whole run; each test file makes its own table in it. */
export default async function setup(project: TestProject) {
  const dynamo = await startDynamoDbLocal();
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return () => dynamo.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
