/**
 * Kafka plumbing shared by the distributed services (ingest, embed, match, alerts): the client, the topic plan,
 * the idempotent producer and the at-least-once consumer with its dead-letter routing and lag reporting.
 */
export { createKafka, DEFAULT_CLIENT_RETRY, type KafkaClientOptions } from './client';
export {
  DEFAULT_TOPIC_PREFIX,
  DEFAULT_TOPIC_SETTINGS,
  ensureTopics,
  TOPIC_ROLES,
  topicConfigEntries,
  topicPlan,
  waitForLeaders,
  type EnsureTopicsResult,
  type TopicPlan,
  type TopicPlanOptions,
  type TopicRole,
  type TopicSettings,
  type TopicSpec,
} from './topics';
export { createProducer, DEFAULT_PRODUCER_RETRY, type OutgoingRecord, type TransportProducer, type TransportProducerOptions } from './producer';
export {
  isRetryable,
  RetryableError,
  runConsumer,
  type ConsumedRecord,
  type LagSample,
  type RunConsumerOptions,
  type RunningConsumer,
} from './consumer';
