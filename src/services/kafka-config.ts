/** The Kafka client and topic plan a configuration asks for: one definition for the services and the commands. */
import type { Kafka, RetryOptions, SASLOptions } from 'kafkajs';
import type { Config } from '../config/schema';
import { createKafka, topicPlan, type TopicPlan } from '../transport';

/** The kafkajs client of a service or command (client id `<clientId>-<who>`), TLS/SASL from the config. */
export function kafkaFromConfig(config: Config, who: string, retry?: RetryOptions): Kafka {
  const { ssl, sasl } = config.kafka;
  return createKafka({
    brokers: config.kafka.brokers,
    clientId: `${config.kafka.clientId}-${who}`,
    ...(retry ? { retry } : {}),
    extra: {
      ...(ssl ? { ssl: true } : {}),
      ...(sasl ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions } : {}),
    },
  });
}

/** The distributed mode's topic plan (prefix, replication, partitions) from the configuration. */
export function configTopicPlan(config: Config): TopicPlan {
  return topicPlan({
    prefix: config.kafka.topicPrefix,
    replicationFactor: config.kafka.replicationFactor,
    topics: {
      faces: { partitions: config.kafka.partitions },
      embeddings: { partitions: config.kafka.partitions },
      cameras: { partitions: config.kafka.cameraPartitions },
    },
  });
}
