/**
 * POST /recognize (admin, operator): one uploaded image (multipart field "image") → every face with its box,
 * quality and match, decided by the same matcher, thresholds and quality gate as the stream (matcher.ts: SVM score,
 * distance to the nearest enrolled face, negatives). A face that fails the quality gate is reported, not matched
 * (the stream would not embed it either). A rejected face names no identity: only accepted matches do.
 * The image is processed in memory and dropped; nothing is recorded.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isOnActiveWatchlist } from '../../match/gallery';
import { OPERATOR_ROLES, type ApiContext } from '../context';
import { qualityView } from '../enrolment';
import { ApiError } from '../errors';
import { ImageInputError } from '../../image/errors';
import { readImages } from '../uploads';
import { multipartBody } from '../validation';
import { Box, Quality } from './schemas';

const MatchView = z.object({
  accepted: z.boolean(),
  /** Set only when accepted. */
  identity: z.string().optional(),
  name: z.string().optional(),
  /** matcher.ts reasons: accepted, below-svm-threshold, distance-too-large, closer-to-negative, no-identities. */
  reason: z.string(),
  svm: z.number().nullable(),
  distance: z.number().nullable(),
  /** Active watchlists holding the identity (an alert would be raised when not empty). */
  watchlists: z.array(z.string()),
});
const FaceView = z.object({
  box: Box,
  score: z.number(),
  quality: Quality,
  /** Passed the quality gate (config `quality`) and was matched. */
  usable: z.boolean(),
  rejected: z.string().optional(),
  match: MatchView.optional(),
});
const RecognizeResponse = z.object({
  width: z.number().int(),
  height: z.number().int(),
  galleryVersion: z.number().int().nullable(),
  thresholds: z.object({ svm: z.number(), distance: z.number() }).nullable(),
  faces: z.array(FaceView),
});

const finite = (v: number) => (Number.isFinite(v) ? Math.round(v * 10000) / 10000 : null);

export function registerRecognizeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post(
    '/recognize',
    {
      config: { roles: OPERATOR_ROLES },
      schema: {
        tags: ['recognize'],
        summary: 'Find and identify the faces of one uploaded image (same matcher and thresholds as the stream)',
        consumes: ['multipart/form-data'],
        body: multipartBody('image', 'one image file; processed in memory and never stored'),
        response: { 200: RecognizeResponse },
      },
    },
    async (req) => {
      const [img] = await readImages(req, 'image', { max: 1 });
      if (img.tooLarge) throw new ApiError(413, 'too-large', `${img.field} "${img.filename}": larger than the limit of ${ctx.config.api.maxUploadBytes} bytes`, 'image');
      let analysis;
      try {
        analysis = await ctx.faces.analyze(img.data, `image "${img.filename}"`);
      } catch (e) {
        if (e instanceof ImageInputError) {
          const tooLarge = e.code === 'too-large-file' || e.code === 'too-large-dimensions';
          throw new ApiError(tooLarge ? 413 : 400, tooLarge ? 'too-large' : 'unreadable-image', e.message, 'image');
        }
        throw e;
      }
      const snap = analysis.faces.some((f) => f.embedding) ? await ctx.gallery.matcher() : undefined;
      const faces = analysis.faces.map((f) => {
        const base = { box: f.box, score: finite(f.score) ?? 0, quality: qualityView(f.quality), usable: !!f.embedding };
        if (!f.embedding) return { ...base, rejected: f.gate ?? 'not embedded' };
        if (!snap) return { ...base, match: { accepted: false, reason: 'no-identities', svm: null, distance: null, watchlists: [] } };
        const m = snap.matcher.match(f.embedding);
        const who = m.accepted && m.identity ? snap.gallery.identities.find((i) => i.id === m.identity) : undefined;
        return {
          ...base,
          match: {
            accepted: m.accepted,
            ...(who ? { identity: who.id, name: who.name } : {}),
            reason: m.reason,
            svm: finite(m.svmScore),
            distance: finite(m.distance),
            watchlists: who ? isOnActiveWatchlist(snap.gallery, who.id) : [],
          },
        };
      });
      return {
        width: analysis.width,
        height: analysis.height,
        galleryVersion: snap?.gallery.version ?? null,
        thresholds: snap ? { svm: snap.matcher.thresholds.svm, distance: snap.matcher.thresholds.distance } : null,
        faces,
      };
    },
  );
}
