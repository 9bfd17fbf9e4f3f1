/**
 * `facestream match`: embeddings (embeddings topic) → alerts (alerts topic), in a consumer group.
 *
 * - Gallery: the Redis gallery held in memory by a GalleryFollower (new versions learnt by pub/sub and polling,
 *   swapped atomically); a matcher snapshot is built once per version from the stored SVM model, or trained in the
 *   background when the version has none (the previous snapshot stays live meanwhile). See MatcherSnapshots.
 * - Tracks: per camera a TrackDecider (a camera's records stay on one partition, hence in one process) fed with
 *   each embedding and the face picture; tracks idle for services.match.trackIdleMs are forgotten.
 * - Large galleries (more than matching.indexAbove identities): the snapshot carries a candidate index (exact; or
 *   approximate, with matching.index: approximate) and each track is decided by the matcher restricted to its
 *   candidates (the same decisions with the exact index; src/match/search/).
 * - Decisions: cooldown per (identity, camera) shared in Redis (SharedCooldown; the window starts after the alert
 *   is published), then an AlertRecord (buildAlert; its id is deterministic from camera, track, identity and track
 *   start, so a replayed record yields the same id) published keyed by camera.
 * - Redis down: matching goes on with the in-memory gallery, the cooldown falls back to memory, readiness reports
 *   degraded; the follower catches up when Redis is back. Before any gallery was loaded (Redis unreachable at
 *   start, or the first model still training) records are held, uncommitted, not skipped.
 *
 * Metrics: gallery_version, matches_total{result}, stage_duration_seconds{stage="match"}, alerts_total{outcome},
 * frame_to_alert_seconds, records published, hop_seconds of match.receive / match.score / match.publish.
 */
import { buildAlert, type AlertInput } from '../alerts/alert';
import { openRedisGallery } from '../match/redis-store';
import { GalleryFollower } from '../match/redis/follower';
import type { Snapshot } from '../match/trainer';
import type { AlertDecision } from '../runtime/track-decider';
import {
  alertInputFromEmbedding,
  decodeFaceEmbedding,
  encodeAlertRecord,
  Stage,
  stampStage,
  trackFaceFromEmbedding,
  type AlertRecord,
  type FaceEmbedding,
} from '../schema';
import { RetryableError, type ConsumedRecord } from '../transport/consumer';
import type { ServiceHost } from './host';
import { CameraTracks } from './match/camera-tracks';
import { MatcherSnapshots } from './match/matcher-snapshots';
import { SharedCooldown } from './match/shared-cooldown';

/** An alert decided but not yet published (its publish failed): re-published when the record is retried. */
interface PendingAlert {
  record: AlertRecord;
  decision: AlertDecision;
  at: number;
}

export async function startMatchService(host: ServiceHost): Promise<void> {
  const { config, log, metrics } = host;
  const url = config.redis.url;
  if (!url) throw new Error('the match service needs Redis (the gallery): set redis.url (--redis redis://host:port, FACESTREAM_REDIS__URL)');

  const store = openRedisGallery(url, { prefix: config.redis.prefix, log });
  const follower = new GalleryFollower(store, { log });
  const snapshots = new MatcherSnapshots({
    thresholds: { svm: config.matching.svm, distance: config.matching.distance },
    indexAbove: config.matching.indexAbove,
    index:
      config.matching.index === 'approximate'
        ? { kind: 'approximate', params: config.matching.approximate, layout: config.matching.approximate.layout, tempDir: config.matching.approximate.tempDir }
        : { kind: 'exact' },
    log,
  });
  const cooldown = new SharedCooldown({ url, prefix: config.redis.prefix, windowMs: config.alerts.cooldownSec * 1000, log });
  const tracks = new CameraTracks(config.services.match.trackIdleMs);
  const pending = new Map<string, PendingAlert>();
  const alertsTopic = host.topics.alerts;

  snapshots.on('swap', (s: Snapshot, how: string) => {
    metrics.galleryVersion.set(s.gallery.version);
    log.info({ galleryVersion: s.gallery.version, identities: s.gallery.identities.length, model: how }, 'matcher ready');
  });
  follower.on('swap', (g) => snapshots.offer(g));
  await follower.start();

  const sweep = setInterval(() => {
    const n = tracks.sweep();
    if (n > 0) log.debug({ forgotten: n, tracks: tracks.tracks }, 'idle tracks forgotten');
    const stale = Date.now() - config.services.match.trackIdleMs;
    for (const [k, p] of pending) if (p.at < stale) pending.delete(k); // its record went to another member
  }, Math.max(250, Math.min(10_000, Math.floor(config.services.match.trackIdleMs / 4))));
  sweep.unref();

  host.onShutdown(async () => {
    clearInterval(sweep);
    follower.close();
    cooldown.close();
    await snapshots.close();
    await store.close();
  });

  host.readiness('gallery', () => {
    const h = follower.health();
    const live = snapshots.current();
    const training = snapshots.training;
    if (h.degraded) {
      return { ok: false, detail: `degraded: ${h.detail}${live ? `; matching on gallery v${live.gallery.version} held in memory` : '; no gallery loaded yet: records wait'}` };
    }
    if (!follower.current()) return { ok: true, detail: 'redis holds no gallery yet (nothing enrolled): no alerts' };
    if (!live) return { ok: false, detail: `training the matcher for gallery v${training ?? follower.current()!.version}` };
    return { ok: true, detail: `gallery v${live.gallery.version}, ${live.gallery.identities.length} identities${training !== undefined ? `; training v${training}` : ''}` };
  });
  host.readiness('cooldown', () => cooldown.health());

  /** The live snapshot; undefined when Redis holds no gallery at all. Throws RetryableError while none is usable yet. */
  function matcherFor(): Snapshot | undefined {
    const live = snapshots.current();
    if (live) return live;
    const h = follower.health();
    if (!follower.current() && !h.degraded) return undefined;
    throw new RetryableError(`no matcher yet (${h.degraded ? h.detail : `training the model of gallery v${snapshots.training ?? '?'}`})`);
  }

  function alertInput(e: FaceEmbedding, decision: AlertDecision): AlertInput {
    // The track's best picture (as the embedded mode alerts with), not necessarily this record's.
    const input = alertInputFromEmbedding({ ...e, faceJpeg: decision.face.jpeg }, decision);
    return {
      ...input,
      box: { ...decision.face.box },
      frameSize: { ...decision.face.frameSize },
      scores: { ...input.scores, detector: decision.face.detectorScore },
    };
  }

  async function publish(p: PendingAlert, e: FaceEmbedding): Promise<void> {
    const { record, decision } = p;
    await host.producer.send(alertsTopic, [{ key: record.alert.camera, value: encodeAlertRecord(record) }]);
    host.service.publishedTotal.inc({ topic: alertsTopic });
    metrics.alertsTotal.inc({ outcome: 'raised' });
    metrics.frameToAlertSeconds.observe(Math.max(0, Date.now() - e.frame.tsMs) / 1000);
    host.observeStages(record.stages.slice(Math.max(0, record.stages.length - 2)));
    // Only now: a crash before this line leaves no window, and the replayed record re-publishes the same alert id.
    await cooldown.mark(decision.identity.id, record.alert.camera, record.alert.id);
    log.info({ camera: record.alert.camera, identity: decision.identity.id, watchlists: decision.watchlists, alertId: record.alert.id, trackId: decision.trackId }, 'watchlist alert');
  }

  async function handle(embedding: FaceEmbedding, rec: ConsumedRecord): Promise<void> {
    const recordId = `${rec.topic}/${rec.partition}/${rec.offset}`;
    const retry = pending.get(recordId);
    if (retry) {
      await publish(retry, embedding);
      pending.delete(recordId);
      return;
    }
    const snap = matcherFor();
    const hopsFrom = Math.max(0, embedding.stages.length - 1);
    let e = stampStage(embedding, Stage.matchReceive);
    if (snap) {
      if (e.model !== snap.gallery.embedder) throw new Error(`embedding from model "${e.model}", the gallery holds "${snap.gallery.embedder}" embeddings`);
      if (e.embedding.length !== snap.gallery.dim) throw new Error(`embedding has ${e.embedding.length} values, the gallery holds ${snap.gallery.dim}-d embeddings`);
    }
    const decider = tracks.touch(e.camera, e.track.id);
    decider.seen(e.track.id, e.track.firstSeenMs, e.frame.tsMs);
    const face = trackFaceFromEmbedding(e);
    if (face) decider.picture(e.track.id, face);
    if (!snap) return; // nothing enrolled: no identity to decide on

    const t0 = process.hrtime.bigint();
    // Large galleries: the track's candidates from the snapshot's exact index, then the same rule on those.
    const restricted = snap.candidates ? await snap.candidates.trackMatcher([...decider.embeddings(e.track.id), e.embedding]) : undefined;
    const { decision, result } = decider.add(e.track.id, e.embedding, snap, restricted);
    metrics.stageSeconds.observe({ stage: 'match' }, Number(process.hrtime.bigint() - t0) / 1e9);
    metrics.matchesTotal.inc({ result: result.accepted ? 'match' : 'unknown' });
    e = stampStage(e, Stage.matchScore);
    log.debug({ camera: e.camera, trackId: e.track.id, accepted: result.accepted, reason: result.reason, candidate: result.candidate, svm: result.svmScore, distance: result.distance }, 'track matched');
    host.observeStages(e.stages.slice(hopsFrom));
    if (!decision) return;
    if (await cooldown.active(decision.identity.id, e.camera)) {
      metrics.alertsTotal.inc({ outcome: 'cooldown' });
      log.info({ camera: e.camera, identity: decision.identity.id, trackId: decision.trackId }, 'match within the cooldown window; no alert');
      return;
    }
    const alert = buildAlert(alertInput(e, decision));
    const p: PendingAlert = { record: stampStage({ alert, stages: e.stages }, Stage.matchPublish), decision, at: Date.now() };
    try {
      await publish(p, e);
    } catch (err) {
      // The decider has recorded the alert for this track: keep it, so that the retry of this record publishes it.
      pending.set(recordId, p);
      throw err;
    }
  }

  await host.consume<FaceEmbedding>({
    topic: 'embeddings',
    // Copies: embeddings and pictures are kept for a track's life, beyond the fetched batch's buffer.
    decode: (value) => decodeFaceEmbedding(value, { copy: true }),
    handle,
  });
}
