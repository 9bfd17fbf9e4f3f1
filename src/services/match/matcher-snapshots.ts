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
import { ModelHolder, type ModelHolderOptions, type Snapshot } from '../../match/trainer';
import type { Logger } from '../../util/log';

export interface MatcherSnapshotsOptions {
  /** Overrides of the gallery's thresholds (config.matching). */
  thresholds?: { svm?: number; distance?: number };
  log: Logger;
  /** Background training (default: a worker thread, as ModelHolder). */
  holder?: ModelHolderOptions;
}

export type SwapHow = 'stored-model' | 'trained';

export class MatcherSnapshots extends EventEmitter {
  private live: Snapshot | undefined;
  /** The gallery whose training is awaited (the latest offered without a usable model). */
  private wanted: Gallery | undefined;
  private seq = 0;
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

  /** Version whose model is being trained, if any. */
  get training(): number | undefined {
    return this.wanted?.version;
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
    await this.holder.close();
  }

  private swap(gallery: Gallery, model: SvmModel, how: SwapHow): void {
    const next: Snapshot = { gallery, model, matcher: buildMatcher(gallery, model), seq: ++this.seq };
    this.live = next; // the swap: one reference assignment
    this.emit('swap', next, how);
  }

  private withOverrides(gallery: Gallery): Gallery {
    const { svm, distance } = this.options.thresholds ?? {};
    if (svm === undefined && distance === undefined) return gallery;
    return { ...gallery, thresholds: { ...gallery.thresholds, ...(svm !== undefined ? { svm } : {}), ...(distance !== undefined ? { distance } : {}) } };
  }
}
