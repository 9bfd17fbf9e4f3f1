/**
 * `facestream embed`: face crops (faces topic) → embeddings (embeddings topic), in a consumer group.
 *
 * The consumer runs in batch mode: each fetched Kafka batch is handled in chunks of up to `embedder.maxBatch`
 * records, and chunks of several partitions are in flight at once; their crops meet in one CropBatcher, so an
 * inference runs when it holds `embedder.maxBatch` crops or its oldest crop has waited `services.embed.maxWaitMs`.
 * A chunk's embeddings are published together (one send, or consecutive sends under Kafka's 1 MB request limit;
 * key = camera, so a camera's records stay ordered) and the chunk is committed only after that. A crop that cannot
 * be embedded (aligned for another model, wrong size) is dead-lettered alone with the reason; undecodable records
 * are dead-lettered by the consumer.
 *
 * Metrics: batch sizes (batch_size{service="embed"}), batch time from sending it to the embedder to its result
 * (stage_duration_seconds{stage="embed"}), embeddings_total, records published, and the hops this service adds
 * (hop_seconds{stage="embed.receive" (Kafka transit and queueing) | "embed.infer" | "embed.publish"}).
 * Readiness: the model is loaded and the consumer has joined its group.
 */
import { ModelRegistry } from '../models/registry';
import { decodeFaceCrop, encodeFaceEmbedding, faceEmbeddingFromCrop, recordKey, Stage, stampStage, type FaceCrop, type StageStamp } from '../schema';
import type { BatchItem } from '../transport/consumer';
import type { OutgoingRecord } from '../transport/producer';
import { EmbedderSlot } from './embed/embedder-slot';
import type { ServiceHost } from './host';

/** Partitions handled at once: enough for their chunks to fill shared inferences and overlap publish with inference. */
const CONCURRENT_PARTITIONS = 4;
/** Bytes of record values per produce request (under Kafka's default 1 MB max.message.bytes, with room for keys). */
const MAX_SEND_BYTES = 768 * 1024;

/** Consecutive slices whose values total at most `max` bytes (a record larger than that goes alone). */
export function bySize(records: OutgoingRecord[], max: number): OutgoingRecord[][] {
  const out: OutgoingRecord[][] = [];
  let cur: OutgoingRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const n = r.value.length;
    if (cur.length > 0 && bytes + n > max) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(r);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

export async function startEmbedService(host: ServiceHost): Promise<void> {
  const { config, log } = host;
  const registry = new ModelRegistry({ modelDir: config.modelDir });
  const slot = await EmbedderSlot.open({
    resolved: registry.embedder(config.embedder.name),
    embedder: {
      intraOpNumThreads: config.embedder.threads,
      executionProviders: config.embedder.executionProviders,
      maxBatch: config.embedder.maxBatch,
    },
    maxWaitMs: config.services.embed.maxWaitMs,
    log,
    onBatch: (size, ms) => {
      host.service.batchSize.observe({ service: 'embed' }, size);
      host.metrics.stageSeconds.observe({ stage: 'embed' }, ms / 1000);
    },
  });
  host.onShutdown(() => slot.close());
  host.readiness('embedder', () => slot.health());
  log.info({ embedder: slot.descriptor.name, provider: slot.provider, maxBatch: config.embedder.maxBatch, maxWaitMs: config.services.embed.maxWaitMs }, 'embedder loaded');

  const name = slot.descriptor.name;
  const topic = host.topics.embeddings;

  /** Why this service cannot embed the crop, or undefined when it can. */
  function unusable(crop: FaceCrop): Error | undefined {
    if (crop.model !== name) return new Error(`crop aligned for embedder "${crop.model}", this embed service runs "${name}"`);
    const { width, height } = slot.descriptor.input;
    const c = crop.crop;
    if (c.width !== width || c.height !== height || c.data.length !== width * height * 3) {
      return new Error(`unusable crop: ${c.width}x${c.height} with ${c.data.length} bytes, the embedder "${name}" expects ${width}x${height} BGR (${width * height * 3} bytes)`);
    }
    return undefined;
  }

  async function handleBatch(items: readonly BatchItem<FaceCrop>[]): Promise<(Error | undefined)[]> {
    const receivedAt = Date.now();
    const results: (Error | undefined)[] = items.map((it) => unusable(it.value));
    const todo = items.flatMap((it, i) => (results[i] === undefined ? [i] : []));
    if (todo.length === 0) return results;
    // Throws (whole chunk) when the embedder fails: retryable while it reloads, else the consumer isolates the record.
    const embeddings = await Promise.all(todo.map((i) => slot.embed(items[i].value.crop)));
    const inferredAt = Date.now();
    const records: OutgoingRecord[] = [];
    const hops: StageStamp[][] = [];
    todo.forEach((i, k) => {
      const crop = items[i].value;
      try {
        let e = faceEmbeddingFromCrop(crop, embeddings[k], name);
        e = stampStage(stampStage(e, Stage.embedReceive, receivedAt), Stage.embedInfer, inferredAt);
        e = stampStage(e, Stage.embedPublish);
        records.push({ key: recordKey(e), value: encodeFaceEmbedding(e) });
        // The hops this service adds: from the previous stage's stamp (Kafka transit) to embed.publish.
        hops.push(e.stages.slice(Math.max(0, crop.stages.length - 1)));
      } catch (err) {
        results[i] = err as Error; // a record that cannot be written (e.g. too many stage stamps): dead-lettered alone
      }
    });
    if (records.length > 0) {
      // Kafka refuses a produce request over max.message.bytes (1 MB by default): a chunk goes in slices, in order.
      for (const slice of bySize(records, MAX_SEND_BYTES)) await host.producer.send(topic, slice);
      host.service.publishedTotal.inc({ topic }, records.length);
      host.metrics.embeddingsTotal.inc(records.length);
      for (const h of hops) host.observeStages(h);
    }
    return results;
  }

  await host.consume<FaceCrop>({
    topic: 'faces',
    decode: decodeFaceCrop,
    handleBatch,
    batchMaxRecords: config.embedder.maxBatch,
    partitionsConsumedConcurrently: Math.min(CONCURRENT_PARTITIONS, config.kafka.partitions),
    onHandled: (n) => host.service.recordsTotal.inc({ topic: host.topics.faces, outcome: 'handled' }, n),
    // One record at a time: only when a chunk failed as a whole (to find the record at fault).
    handle: async (crop, record) => {
      const [err] = await handleBatch([{ value: crop, record }]);
      if (err !== undefined) throw err;
    },
  });
}
