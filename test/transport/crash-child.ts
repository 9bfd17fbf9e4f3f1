/**
 * A consumer process for the crash test: runs runConsumer on argv topic/group against argv brokers and prints the
 * frame seq of every handled record as `handled <seq>` on stdout, so the parent can SIGKILL it mid-stream.
 */
import { runConsumer } from '../../src/transport/consumer';
import { createProducer } from '../../src/transport/producer';
import { cropConsumerOptions, sleep, testKafka } from './helpers';

async function main(): Promise<void> {
  const [brokers, topic, groupId, dlqTopic] = process.argv.slice(2);
  const kafka = testKafka(brokers.split(','), 'crash-child');
  const producer = createProducer(kafka);
  await producer.connect();
  await runConsumer(
    cropConsumerOptions({ kafka, producer }, topic, groupId, {
      service: 'crash-child',
      dlq: { producer, topic: dlqTopic },
      handle: async (crop) => {
        await sleep(5);
        process.stdout.write(`handled ${crop.frame.seq}\n`);
      },
    }),
  );
}

main().catch((err) => {
  process.stderr.write(`crash-child: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
