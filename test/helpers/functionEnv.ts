/**
 * Stand-ins for the names of the resources a stack creates (table, bucket, bus, secret, queues):
 * what a function's config requires and no default can supply. For tests that build a function's
 * config without a stack; the values name nothing that exists.
 */
export const RESOURCE_NAMES_FOR_TESTS = {
  TABLE_NAME: 'test-table',
  BUCKET_NAME: 'test-bucket',
  EVENT_BUS_NAME: 'test-bus',
  RINGCX_SECRET_ID: 'test-secret',
  WORK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/test-work',
  BULK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/test-bulk',
  PRIORITY_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/test-priority',
  EVENTS_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/test-events-dlq',
} as const;
