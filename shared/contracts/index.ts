/**
 * What crosses a process boundary: queue messages, EventBridge events, object versions, the
 * target-type names people write, and the metric names infra/ watches. Nothing here may import
 * from the rest of shared/: every other layer builds on these.
 */
export * from './events';
export * from './metrics';
export * from './objects';
export * from './outcomes';
export * from './queueMessages';
export * from './targets';
