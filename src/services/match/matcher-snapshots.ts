/**
 * The match service's live matcher: one {gallery, model, matcher} snapshot (the shape TrackDecider takes), built
 * once per gallery version the GalleryFollower swaps in, and replaced by one reference assignment.
 *
 * - The version carries its SVM model (enrol/calibrate commands store it with the gallery): the matcher is built
 *   at once.
 * - It carries none, or one that does not fit (trained on other identities or example counts): the model is
 *   trained in the background by a ModelHolder (worker thread) while the previous snapshot stays live; the result
 *   is adopted only if no newer version arrived meanwhile.
 * Threshold overrides of the configuration (matching.svm / matching.distance) apply to every snapshot, as in the
 * embedded mode.
 *
 * Events: 'swap' (snapshot, how: 'stored-model' | 'trained').
 */
import { EventEmitter } from 'node:events';
import type { Gallery } from '../../match/gallery';
import { buildMatcher } from '../../match/matcher';
import type { GallerySnapshot } from '../../match/redis/follower';
import type { SvmModel } from '../../match/svm';
import type { AnnParams, GraphLayout } from '../../match/search/ann-params';
import { releaseCandidateIndex, withCandidateIndex, type CandidateIndexKind } from '../../match/search/snapshot-index';
import { ModelHolder, type ModelHolderOptions, type Snapshot } from '../../match/trainer';
import type { Logger } from '../../util/log';

export interface MatcherSnapshotsOptions {
  /** Overrides of the gallery's thresholds (config.matching). */
  thresholds?: { svm?: number; distance?: number };
  log: Logger;
  /** Background training (default: a worker thread, as ModelHolder). */
  holder?: ModelHolderOptions;
  /** Galleries with more identities get a candidate index (config matching.indexAbove; default: never). */
  indexAbove?: number;
  /** Which candidate index (config matching.index and matching.approximate; default exact). */
  index?: { kind: 'exact' } | { kind: 'approximate'; params: AnnParams; layout?: GraphLayout; tempDir?: string };
}

export type SwapHow = 'stored-model' | 'trained';

export class MatcherSnapshots extends EventEmitter {
  private live: Snapshot | undefined;
  /** The gallery whose training is awaited (the latest offered without a usable model). */
  private wanted: Gallery | undefined;
  private seq = 0;
  private closed = false;
  /** The snapshot whose candidate index is being built, if any. */
  private indexing: { seq: number; version: number } | undefined;
  /** Stops the approximate build in progress (minutes at 1M identities) once a newer version makes it useless. */
  private building: AbortController | undefined;
  private readonly holder: ModelHolder;

  constructor(private readonly options: MatcherSnapshotsOptions) {
    super();
    this.holder = new ModelHolder(options.holder);
    this.holder.on('swapped', (s: Snapshot) => {
      if (s.gallery !== this.wanted) return; // a newer version arrived meanwhile (or was built from its stored model)
      this.wanted = undefined;
      this.swap(s.gallery, s.model, 'trained');
    });
    this.holder.on('train-error', (err: Error) => {
      this.options.log.error({ err: err.message, galleryVersion: this.wanted?.version }, 'training the gallery model failed; matching continues on the previous snapshot');
    });
  }

  /** The live snapshot (undefined until the first one is built). */
  current(): Snapshot | undefined {
    return this.live;
  }

  /** Version whose model is being trained (or whose candidate index is being built), if any. */
  get training(): number | undefined {
    return this.wanted?.version ?? this.indexing?.version;
  }

  /** A new gallery version from the follower. */
  offer(s: GallerySnapshot): void {
    const gallery = this.withOverrides(s.gallery);
    if (s.model) {
      try {
        this.swap(gallery, s.model, 'stored-model');
        this.wanted = undefined;
        return;
      } catch (err) {
        this.options.log.warn({ galleryVersion: s.version, err: (err as Error).message }, 'the stored model does not fit the gallery; training one');
      }
    }
    this.wanted = gallery;
    this.options.log.info({ galleryVersion: s.version, identities: gallery.identities.length }, 'training the gallery model in the background');
    this.holder.requestRetrain(gallery);
  }

  async close(): Promise<void> {
    this.wanted = undefined;
    this.closed = true;
    this.building?.abort();
    releaseCandidateIndex(this.live, 0);
    await this.holder.close();
  }

  /**
   * Builds the snapshot (buildMatcher throws at once when the model does not fit). A large gallery's candidate
   * index is built first, asynchronously, while the previous snapshot stays live; it is adopted only if no newer
   * version was swapped in meanwhile. If the index cannot be built, the snapshot scores every identity instead.
   */
  private swap(gallery: Gallery, model: SvmModel, how: SwapHow): void {
    const base: Snapshot = { gallery, model, matcher: buildMatcher(gallery, model), seq: ++this.seq };
    this.building?.abort(); // an older version's graph would be thrown away when done
    this.building = undefined;
    const indexAbove = this.options.indexAbove ?? Infinity;
    if (gallery.identities.length <= indexAbove) return this.adopt(base, how);
    this.indexing = { seq: base.seq, version: gallery.version };
    const chosen = this.options.index ?? { kind: 'exact' };
    let indexKind: CandidateIndexKind = chosen;
    if (chosen.kind === 'approximate') {
      // A graph over a million identities takes minutes: log its progress (about every 10%).
      const started = Date.now();
      let logged = 0;
      const onProgress = (done: number, total: number): void => {
        if (done < total && done - logged < total / 10) return;
        logged = done;
        this.options.log.info({ galleryVersion: gallery.version, done, total, seconds: Math.round((Date.now() - started) / 1000) }, 'building the approximate candidate index');
      };
      this.building = new AbortController();
      const onLayoutFailed = (reason: string): void =>
        this.options.log.warn({ galleryVersion: gallery.version, reason }, 'the approximate index stays in insertion order, in the heap (searches slower, answers the same)');
      indexKind = { ...chosen, onProgress, onLayoutFailed, signal: this.building.signal };
    }
    const signal = this.building?.signal;
    withCandidateIndex(base, indexAbove, indexKind).then(
      (next) => {
        if (this.seq !== base.seq || this.closed) return releaseCandidateIndex(next, 0);
        this.adopt(next, how);
      },
      (err: Error) => {
        if (signal?.aborted) {
          this.options.log.info({ galleryVersion: gallery.version }, 'candidate index build abandoned: a newer gallery version arrived');
          this.emit('abandoned', gallery.version);
          return;
        }
        this.options.log.error({ galleryVersion: gallery.version, err: err.message }, 'building the candidate index failed; this gallery version scores every identity');
        if (this.seq !== base.seq || this.closed) return;
        this.adopt(base, how);
      },
    );
  }

  private adopt(next: Snapshot, how: SwapHow): void {
    const previous = this.live;
    if (this.indexing && this.indexing.seq <= next.seq) this.indexing = undefined;
    this.live = next; // the swap: one reference assignment
    this.emit('swap', next, how);
    if (previous !== next) releaseCandidateIndex(previous);
  }

  private withOverrides(gallery: Gallery): Gallery {
    const { svm, distance } = this.options.thresholds ?? {};
    if (svm === undefined && distance === undefined) return gallery;
    return { ...gallery, thresholds: { ...gallery.thresholds, ...(svm !== undefined ? { svm } : {}), ...(distance !== undefined ? { distance } : {}) } };
  }
}
