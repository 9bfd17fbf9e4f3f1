/**
 * The kafkajs client every service builds its producer, consumer and admin from. Its `retry` is the budget of
 * kafkajs's inner retries (connecting, metadata, producer-id) under every call: kafkajs's default (5 retries, about
 * 10 s) turns a broker restart into KafkaJSNonRetriableError("Connection error …") out of producer.send, even with
 * the idempotent producer's unlimited retries. The default here waits out about 2 minutes of broker outage; a
 * longer one surfaces as an error (the service decides: crash and be restarted, or retry).
 */
import { Kafka, type KafkaConfig, logLevel, type RetryOptions } from 'kafkajs';

export const DEFAULT_CLIENT_RETRY: RetryOptions = { retries: 30, initialRetryTime: 300, maxRetryTime: 5000 };

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  retry?: RetryOptions;
  /** TLS / SASL and other kafkajs settings, passed through. */
  extra?: Omit<KafkaConfig, 'brokers' | 'clientId' | 'retry'>;
  /** kafkajs's own log level (default WARN). */
  logLevel?: logLevel;
}

export function createKafka(opts: KafkaClientOptions): Kafka {
  return new Kafka({
    connectionTimeout: 3000,
    logLevel: opts.logLevel ?? logLevel.WARN,
    ...(opts.extra ?? {}),
    brokers: opts.brokers,
    clientId: opts.clientId,
    retry: { ...DEFAULT_CLIENT_RETRY, ...(opts.retry ?? {}) },
  });
}
