import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface AwsClients {
  s3: S3Client;
  sqs: SQSClient;
  dynamo: DynamoDBDocumentClient;
  secrets: SecretsManagerClient;
  events: EventBridgeClient;
}

/**
 * SDK clients for one process. In Lambda the endpoints come from the runtime; locally each service
 * may point at its emulator (fauxqs for S3 and SQS, DynamoDB Local, the local JSON services).
 */
/** The settings the clients are made from (shared/config.ts validates them). */
export interface AwsClientSettings {
  AWS_REGION: string;
  AWS_ENDPOINT_URL?: string | undefined;
  AWS_ENDPOINT_URL_S3?: string | undefined;
  AWS_ENDPOINT_URL_SQS?: string | undefined;
  AWS_ENDPOINT_URL_DYNAMODB?: string | undefined;
  AWS_ENDPOINT_URL_SECRETS_MANAGER?: string | undefined;
  AWS_ENDPOINT_URL_EVENTBRIDGE?: string | undefined;
}

export function createAwsClients(config: AwsClientSettings): AwsClients {
  const endpoint = (specific: string | undefined) => specific ?? config.AWS_ENDPOINT_URL;
  const base = { region: config.AWS_REGION };
  const at = (url: string | undefined) => (url ? { endpoint: url } : {});
  const s3Endpoint = endpoint(config.AWS_ENDPOINT_URL_S3);
  return {
    // Emulators serve buckets by path, not by virtual host.
    s3: new S3Client({ ...base, ...at(s3Endpoint), ...(s3Endpoint ? { forcePathStyle: true } : {}) }),
    sqs: new SQSClient({ ...base, ...at(endpoint(config.AWS_ENDPOINT_URL_SQS)) }),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({ ...base, ...at(endpoint(config.AWS_ENDPOINT_URL_DYNAMODB)) }), {
      marshallOptions: { removeUndefinedValues: true },
    }),
    secrets: new SecretsManagerClient({ ...base, ...at(endpoint(config.AWS_ENDPOINT_URL_SECRETS_MANAGER)) }),
    events: new EventBridgeClient({ ...base, ...at(endpoint(config.AWS_ENDPOINT_URL_EVENTBRIDGE)) }),
  };
}
