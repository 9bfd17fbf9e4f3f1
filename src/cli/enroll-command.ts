import { maskUrl } from '../util/redact';
import { Command } from 'commander';
import { addEmbeddings, addIdentity, addNegatives, findIdentity, slugify } from '../match/gallery';
import { enrolFolder } from '../pipeline/enrol';
import { addCommonOptions, configFrom, openGallery, openModels, type CommonFlags } from './common';

export function registerEnrollCommand(program: Command): void {
  addCommonOptions(
    program
      .command('enroll')
      .description(
        'Enrol identities from a folder: <dir>/<identity>/ holds images and/or video clips of one person, ' +
          '<dir>/<identity>/not/ optional negative examples. New identities join the active "default" watchlist.',
      )
      .requiredOption('--gallery <dir>', 'folder with one sub-folder per identity (its name is the identity)')
      .option('--several-faces <policy>', 'image with several faces: "reject" (default) or "largest"', 'reject')
      .option('--json', 'print the per-item results as JSON on stdout'),
  ).action(async (opts: CommonFlags & { gallery: string; severalFaces: string; json?: boolean }) => {
    if (!['reject', 'largest'].includes(opts.severalFaces)) throw new Error(`--several-faces must be "reject" or "largest", got "${opts.severalFaces}"`);
    const config = configFrom(opts);
    const models = await openModels(config);
    try {
      let { store, gallery } = await openGallery(config, models.embedder);
      const out = process.stderr;
      const { identities, skipped } = await enrolFolder(opts.gallery, {
        detector: models.detector,
        embedder: models.embedder,
        policy: opts.severalFaces === 'largest' ? 'largest' : 'single',
        quality: { minFaceSize: config.quality.minFaceSize, minBlur: config.quality.minBlur, maxYaw: config.quality.maxYaw, maxPitch: config.quality.maxPitch },
        onItem: (r) => out.write(`[enroll] ${r.identity}${r.negative ? ' (negative)' : ''}: ${r.file}: ${r.accepted ? `accepted (${r.accepted} face${r.accepted > 1 ? 's' : ''})` : `rejected: ${r.reason}`}\n`),
        onProgress: (done, total) => out.write(`[enroll] ${done}/${total}\n`),
      });
      for (const s of skipped) out.write(`[enroll] skipped ${s}\n`);
      const summary: { identity: string; id?: string; embeddings: number; negatives: number; status: string }[] = [];
      for (const idn of identities) {
        if (idn.embeddings.length === 0 && idn.negatives.length === 0) {
          summary.push({ identity: idn.name, embeddings: 0, negatives: 0, status: 'not enrolled: no usable face' });
          continue;
        }
        const existing = findIdentity(gallery, slugify(idn.name));
        let id: string;
        if (existing) {
          id = existing.id;
          if (idn.embeddings.length) gallery = addEmbeddings(gallery, id, gallery.embedder, idn.embeddings);
        } else {
          if (idn.embeddings.length === 0) {
            summary.push({ identity: idn.name, embeddings: 0, negatives: idn.negatives.length, status: 'not enrolled: negatives only for an unknown identity' });
            continue;
          }
          const r = addIdentity(gallery, { name: idn.name, embedder: gallery.embedder, embeddings: idn.embeddings });
          gallery = r.gallery;
          id = r.identity.id;
        }
        if (idn.negatives.length) gallery = addNegatives(gallery, id, gallery.embedder, idn.negatives);
        summary.push({ identity: idn.name, id, embeddings: idn.embeddings.length, negatives: idn.negatives.length, status: existing ? 'updated' : 'enrolled' });
      }
      await store.save(gallery);
      // Redis numbers its own versions (one per commit); show the one matchers will report.
      const version = (store as { storedVersion?: number }).storedVersion ?? gallery.version;
      const items = identities.flatMap((i) => i.items);
      if (opts.json) process.stdout.write(`${JSON.stringify({ store: maskUrl(config.store), galleryVersion: version, identities: summary, items, skipped })}\n`);
      else {
        for (const s of summary) process.stdout.write(`${s.identity.padEnd(24)} ${s.status.padEnd(10)} ${s.embeddings} faces, ${s.negatives} negatives\n`);
        process.stdout.write(`gallery v${version} saved in ${maskUrl(config.store)} (${gallery.identities.length} identities)\n`);
      }
      if (!summary.some((s) => s.status === 'enrolled' || s.status === 'updated')) process.exitCode = 1;
    } finally {
      await models.close();
    }
  });
}
