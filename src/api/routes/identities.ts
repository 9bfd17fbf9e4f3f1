/**
 * Identities and enrolment:
 *   POST   /identities                 {name, id?, displayName?, metadata?}   admin
 *   GET    /identities?limit=&offset=                                           every role
 *   GET    /identities/:id                                                      every role
 *   PATCH  /identities/:id             {name?, displayName?, metadata?}       admin
 *   DELETE /identities/:id             erasure (+ audit record)               admin
 *   POST   /identities/:id/images      multipart "images": enrol faces        admin
 *   POST   /identities/:id/negatives   multipart "images": "this is not :id"   admin
 * An identity created here has no embeddings until an image is accepted; it joins the gallery (and the active
 * watchlist "default", as every enrolment does) with its first accepted face.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { addEmbeddings, addIdentity, addNegatives, findIdentity, slugify, type Gallery, type Identity } from '../../match/gallery';
import { audited } from '../audit/record';
import { ADMIN_ONLY, READ_ROLES, type ApiContext } from '../context';
import { enrolImages, type ImageResult } from '../enrolment';
import { ApiError, conflict, notFound } from '../errors';
import type { IdentityRecord } from '../identity-directory';
import { readImages } from '../uploads';
import { multipartBody } from '../validation';
import { Box, IdentityId, IdParams, Metadata, Paging, PersonName, Quality } from './schemas';

const CreateBody = z.strictObject({ name: PersonName, id: IdentityId.optional(), displayName: PersonName.optional(), metadata: Metadata.optional() });
const PatchBody = z
  .strictObject({ name: PersonName.optional(), displayName: PersonName.nullable().optional(), metadata: Metadata.nullable().optional() })
  .refine((b) => Object.keys(b).length > 0, { error: 'expected at least one of name, displayName, metadata' });

export const IdentityView = z.object({
  id: z.string(),
  name: z.string(),
  displayName: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  createdAt: z.string(),
  /** In the gallery (has at least one enrolled face). */
  enrolled: z.boolean(),
  embeddings: z.number().int(),
  negatives: z.number().int(),
  watchlists: z.array(z.string()),
});
type IdentityView = z.infer<typeof IdentityView>;

const ImageResultView = z.object({
  field: z.string(),
  filename: z.string(),
  faces: z.number().int(),
  accepted: z.boolean(),
  reason: z.enum(['no-face', 'several-faces', 'too-small', 'too-blurry', 'bad-pose', 'unreadable', 'too-large']).optional(),
  message: z.string().optional(),
  box: Box.optional(),
  quality: Quality.optional(),
});
const EnrolResponse = z.object({ identity: IdentityView, accepted: z.number().int(), rejected: z.number().int(), galleryVersion: z.number().int(), results: z.array(ImageResultView) });

function view(id: string, record: IdentityRecord | undefined, g: Gallery | undefined): IdentityView {
  const idn: Identity | undefined = g ? findIdentity(g, id) : undefined;
  return {
    id,
    name: idn?.name ?? record?.name ?? id,
    ...(record?.displayName ? { displayName: record.displayName } : {}),
    ...(record?.metadata ? { metadata: record.metadata } : {}),
    createdAt: record?.createdAt ?? idn?.createdAt ?? '',
    enrolled: !!idn,
    embeddings: idn?.embeddings.length ?? 0,
    negatives: idn?.negatives.length ?? 0,
    watchlists: g ? g.watchlists.filter((w) => w.identities.includes(id)).map((w) => w.name) : [],
  };
}

async function lookup(ctx: ApiContext, id: string): Promise<{ record?: IdentityRecord; gallery?: Gallery; inGallery: boolean }> {
  const [record, gallery] = await Promise.all([ctx.identities.get(id), ctx.gallery.read()]);
  const inGallery = !!(gallery && findIdentity(gallery, id));
  if (!record && !inGallery) throw notFound(`no identity "${id}"`, 'id');
  return { record, gallery, inGallery };
}

export function registerIdentityRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['identities'];

  app.post(
    '/identities',
    { config: { roles: ADMIN_ONLY }, schema: { tags, summary: 'Create an identity (enrol faces with POST /identities/{id}/images)', body: CreateBody, response: { 201: IdentityView } } },
    async (req, reply) => {
      const body = req.body as z.output<typeof CreateBody>;
      const [records, gallery] = await Promise.all([ctx.identities.list(), ctx.gallery.read()]);
      const taken = (id: string) => records.some((r) => r.id === id) || !!(gallery && findIdentity(gallery, id));
      let id = body.id ?? slugify(body.name);
      for (let n = 2; body.id === undefined && taken(id); n++) id = `${slugify(body.name)}-${n}`;
      const { result } = await audited(ctx, req, 'identity.create', `identity:${id}`, async () => {
        if (taken(id)) throw conflict(`identity "${id}" already exists`, 'id');
        const record: IdentityRecord = { id, name: body.name, createdAt: new Date().toISOString(), ...(body.displayName ? { displayName: body.displayName } : {}), ...(body.metadata ? { metadata: body.metadata } : {}) };
        await ctx.identities.put(record);
        return view(id, record, gallery);
      });
      return reply.code(201).send(result);
    },
  );

  app.get(
    '/identities',
    { config: { roles: READ_ROLES }, schema: { tags, summary: 'List identities', querystring: Paging, response: { 200: z.object({ total: z.number().int(), identities: z.array(IdentityView) }) } } },
    async (req) => {
      const { limit, offset } = req.query as z.output<typeof Paging>;
      const [records, gallery] = await Promise.all([ctx.identities.list(), ctx.gallery.read()]);
      const byId = new Map(records.map((r) => [r.id, r]));
      const ids = [...new Set([...(gallery?.identities.map((i) => i.id) ?? []), ...records.map((r) => r.id)])].sort();
      return { total: ids.length, identities: ids.slice(offset, offset + limit).map((id) => view(id, byId.get(id), gallery)) };
    },
  );

  app.get(
    '/identities/:id',
    { config: { roles: READ_ROLES }, schema: { tags, summary: 'Get an identity', params: IdParams, response: { 200: IdentityView } } },
    async (req) => {
      const { id } = req.params as z.output<typeof IdParams>;
      const { record, gallery } = await lookup(ctx, id);
      return view(id, record, gallery);
    },
  );

  app.patch(
    '/identities/:id',
    { config: { roles: ADMIN_ONLY }, schema: { tags, summary: 'Change an identity\'s name, display name or metadata (null removes)', params: IdParams, body: PatchBody, response: { 200: IdentityView } } },
    async (req) => {
      const { id } = req.params as z.output<typeof IdParams>;
      const body = req.body as z.output<typeof PatchBody>;
      const { result } = await audited(ctx, req, 'identity.update', `identity:${id}`, async () => {
        const { record, gallery, inGallery } = await lookup(ctx, id);
        const base = record ?? { id, name: findIdentity(gallery!, id)!.name, createdAt: findIdentity(gallery!, id)!.createdAt };
        const next: IdentityRecord = { ...base, updatedAt: new Date().toISOString() };
        if (body.name !== undefined) next.name = body.name;
        if (body.displayName === null) delete next.displayName;
        else if (body.displayName !== undefined) next.displayName = body.displayName;
        if (body.metadata === null) delete next.metadata;
        else if (body.metadata !== undefined) next.metadata = body.metadata;
        await ctx.identities.put(next);
        let g = gallery;
        if (inGallery && body.name !== undefined && body.name !== findIdentity(gallery!, id)!.name) {
          g = await ctx.gallery.update((cur) => {
            if (!findIdentity(cur, id)) return { result: cur };
            const renamed = { ...cur, version: cur.version + 1, identities: cur.identities.map((i) => (i.id === id ? { ...i, name: body.name! } : i)) };
            return { gallery: renamed, result: renamed };
          });
        }
        return view(id, next, g);
      });
      return result;
    },
  );

  app.delete(
    '/identities/:id',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        tags,
        summary: 'Erase an identity: its embeddings leave every store and cache, models are retrained, an audit record is written',
        params: IdParams,
        response: { 200: z.object({ id: z.string(), erased: z.literal(true), galleryVersion: z.number().int().optional(), audit: z.object({ at: z.string(), keyId: z.string(), action: z.string(), target: z.string(), result: z.string(), detail: z.string().optional() }) }) },
      },
    },
    async (req) => {
      const { id } = req.params as z.output<typeof IdParams>;
      const { result, record } = await audited(
        ctx,
        req,
        'identity.erase',
        `identity:${id}`,
        async () => {
          const { record: rec, inGallery } = await lookup(ctx, id);
          const version = inGallery ? await ctx.gallery.erase(id) : undefined;
          if (rec) await ctx.identities.remove(id);
          const notes: string[] = [];
          for (const hook of ctx.erasureHooks) {
            const note = await hook(id);
            if (note) notes.push(note);
          }
          return { version, notes };
        },
        (r) => [r.version !== undefined ? `gallery v${r.version}: embeddings and negatives removed` : 'no embeddings were enrolled', ...r.notes].join('; '),
      );
      return { id, erased: true as const, ...(result.version !== undefined ? { galleryVersion: result.version } : {}), audit: record };
    },
  );

  const enrolRoute = (kind: 'images' | 'negatives') =>
    async (req: FastifyRequest) => {
      const { id } = req.params as z.output<typeof IdParams>;
      await lookup(ctx, id);
      const images = await readImages(req, 'images');
      const { result } = await audited(
        ctx,
        req,
        kind === 'images' ? 'identity.enrol' : 'identity.negatives',
        `identity:${id}`,
        async () => {
          const { results, embeddings } = await enrolImages(ctx.faces, images, ctx.config.api.facePolicy, ctx.config.api.maxUploadBytes);
          if (embeddings.length === 0) throw noneAccepted(results);
          const embedder = await ctx.faces.embedderName();
          const record = await ctx.identities.get(id);
          const gallery = await ctx.gallery.update((g) => {
            let next: Gallery;
            if (kind === 'negatives') {
              if (!findIdentity(g, id)) throw conflict(`identity "${id}" has no enrolled face yet: enrol images of the person (POST /identities/${id}/images) before negatives`, 'id');
              next = addNegatives(g, id, embedder, embeddings);
            } else if (findIdentity(g, id)) next = addEmbeddings(g, id, embedder, embeddings);
            // First face of an identity created through the API: it joins the gallery now.
            else next = addIdentity(g, { id, name: record?.name ?? id, embedder, embeddings, createdAt: record?.createdAt }).gallery;
            return { gallery: next, result: next };
          });
          return { results, accepted: embeddings.length, gallery, identity: view(id, record, gallery) };
        },
        (r) => `${r.accepted} of ${r.results.length} image(s) accepted; gallery v${r.gallery.version}`,
      );
      return { identity: result.identity, accepted: result.accepted, rejected: result.results.length - result.accepted, galleryVersion: result.gallery.version, results: result.results };
    };

  for (const kind of ['images', 'negatives'] as const) {
    app.post(
      `/identities/:id/${kind}`,
      {
        config: { roles: ADMIN_ONLY },
        schema: {
          tags,
          summary: kind === 'images' ? 'Enrol faces from uploaded images (multipart field "images", several allowed)' : 'Add negative examples: faces that are NOT this identity (multipart field "images")',
          consumes: ['multipart/form-data'],
          params: IdParams,
          body: multipartBody('images', 'image files (JPEG, PNG, BMP, WebP, TIFF); processed in memory and never stored'),
          response: { 200: EnrolResponse },
        },
      },
      enrolRoute(kind),
    );
  }
}

/** 422 when no uploaded image gave a usable face; the per-image results say why each was refused. */
function noneAccepted(results: ImageResult[]): ApiError {
  const first = results[0];
  const msg = results.length === 1 ? first.message ?? `${first.field}: ${first.reason}` : `none of the ${results.length} images was accepted: ${results.map((r) => `${r.field} ${r.reason}`).join(', ')}`;
  return new ApiError(422, 'no-usable-face', msg, first.field, { results });
}
