/**
 * Watchlists (only identities on an active watchlist alert):
 *   POST   /watchlists                         {name, identities?, active?}   admin, operator
 *   GET    /watchlists, /watchlists/:name                                     every role
 *   POST   /watchlists/:name/identities        {ids}                          admin, operator
 *   DELETE /watchlists/:name/identities/:id                                   admin, operator
 *   POST   /watchlists/:name/activate | deactivate                            admin, operator
 *   DELETE /watchlists/:name                                                  admin, operator
 * Changes are gallery changes: saved to the store (Redis: a new version every matcher follows) and audited.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { addToWatchlist, createWatchlist, deleteWatchlist, findIdentity, removeFromWatchlist, setWatchlistActive, type Gallery, type Watchlist } from '../../match/gallery';
import { audited } from '../audit/record';
import { OPERATOR_ROLES, READ_ROLES, type ApiContext } from '../context';
import { ApiError, conflict, notFound } from '../errors';
import { IdentityId, WatchlistName, WatchlistParams } from './schemas';

const IDS_EXPECTED = 'expected a list of 1..1000 identity ids';
const CreateBody = z.strictObject({ name: WatchlistName, identities: z.array(IdentityId, { error: IDS_EXPECTED }).max(1000, { error: IDS_EXPECTED }).optional(), active: z.boolean({ error: 'expected true or false' }).optional() });
const IdsBody = z.strictObject({ ids: z.array(IdentityId, { error: IDS_EXPECTED }).min(1, { error: IDS_EXPECTED }).max(1000, { error: IDS_EXPECTED }) });
const MemberParams = z.strictObject({ name: WatchlistName, id: IdentityId });

const WatchlistView = z.object({ name: z.string(), active: z.boolean(), identities: z.array(z.string()) });
const view = (w: Watchlist) => ({ name: w.name, active: w.active, identities: [...w.identities] });

function requireWatchlist(g: Gallery, name: string): Watchlist {
  const w = g.watchlists.find((x) => x.name === name);
  if (!w) throw notFound(`no watchlist "${name}"`, 'name');
  return w;
}

function requireIdentities(g: Gallery, ids: readonly string[], field: string): void {
  ids.forEach((id, i) => {
    if (!findIdentity(g, id)) throw new ApiError(400, 'unknown-identity', `${field}[${i}]: no enrolled identity "${id}" (enrol a face first)`, `${field}[${i}]`);
  });
}

export function registerWatchlistRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['watchlists'];
  const wl = { 200: WatchlistView };

  /** Applies a gallery change as the caller, audited; returns the watchlist afterwards (undefined when deleted). */
  const change = async (req: FastifyRequest, action: string, name: string, fn: (g: Gallery) => Gallery) => {
    const { result } = await audited(ctx, req, action, `watchlist:${name}`, () =>
      ctx.gallery.update((g) => {
        const next = fn(g);
        return { gallery: next, result: next.watchlists.find((w) => w.name === name) };
      }),
    );
    return result;
  };

  app.post('/watchlists', { config: { roles: OPERATOR_ROLES }, schema: { tags, summary: 'Create a watchlist', body: CreateBody, response: { 201: WatchlistView } } }, async (req, reply) => {
    const b = req.body as z.output<typeof CreateBody>;
    const w = await change(req, 'watchlist.create', b.name, (g) => {
      if (g.watchlists.some((x) => x.name === b.name)) throw conflict(`watchlist "${b.name}" already exists`, 'name');
      requireIdentities(g, b.identities ?? [], 'identities');
      return createWatchlist(g, b.name, { active: b.active ?? true, identities: b.identities ?? [] });
    });
    return reply.code(201).send(view(w!));
  });

  app.get('/watchlists', { config: { roles: READ_ROLES }, schema: { tags, summary: 'List watchlists', response: { 200: z.object({ watchlists: z.array(WatchlistView) }) } } }, async () => {
    const g = await ctx.gallery.read();
    return { watchlists: (g?.watchlists ?? []).map(view) };
  });

  app.get('/watchlists/:name', { config: { roles: READ_ROLES }, schema: { tags, summary: 'Get a watchlist', params: WatchlistParams, response: wl } }, async (req) => {
    const { name } = req.params as z.output<typeof WatchlistParams>;
    const g = await ctx.gallery.read();
    if (!g) throw notFound(`no watchlist "${name}"`, 'name');
    return view(requireWatchlist(g, name));
  });

  app.post('/watchlists/:name/identities', { config: { roles: OPERATOR_ROLES }, schema: { tags, summary: 'Add identities to a watchlist', params: WatchlistParams, body: IdsBody, response: wl } }, async (req) => {
    const { name } = req.params as z.output<typeof WatchlistParams>;
    const { ids } = req.body as z.output<typeof IdsBody>;
    return view(
      (await change(req, 'watchlist.add', name, (g) => {
        requireWatchlist(g, name);
        requireIdentities(g, ids, 'ids');
        return addToWatchlist(g, name, ids);
      }))!,
    );
  });

  app.delete('/watchlists/:name/identities/:id', { config: { roles: OPERATOR_ROLES }, schema: { tags, summary: 'Remove an identity from a watchlist', params: MemberParams, response: wl } }, async (req) => {
    const { name, id } = req.params as z.output<typeof MemberParams>;
    return view(
      (await change(req, 'watchlist.remove', name, (g) => {
        if (!requireWatchlist(g, name).identities.includes(id)) throw notFound(`identity "${id}" is not on watchlist "${name}"`, 'id');
        return removeFromWatchlist(g, name, [id]);
      }))!,
    );
  });

  for (const [verb, active] of [['activate', true], ['deactivate', false]] as const) {
    app.post(`/watchlists/:name/${verb}`, { config: { roles: OPERATOR_ROLES }, schema: { tags, summary: `${verb[0].toUpperCase()}${verb.slice(1)} a watchlist`, params: WatchlistParams, response: wl } }, async (req) => {
      const { name } = req.params as z.output<typeof WatchlistParams>;
      return view(
        (await change(req, `watchlist.${verb}`, name, (g) => {
          requireWatchlist(g, name);
          return setWatchlistActive(g, name, active);
        }))!,
      );
    });
  }

  app.delete('/watchlists/:name', { config: { roles: OPERATOR_ROLES }, schema: { tags, summary: 'Delete a watchlist (its identities stay enrolled)', params: WatchlistParams, response: { 200: z.object({ name: z.string(), deleted: z.literal(true) }) } } }, async (req) => {
    const { name } = req.params as z.output<typeof WatchlistParams>;
    await change(req, 'watchlist.delete', name, (g) => {
      requireWatchlist(g, name);
      return deleteWatchlist(g, name);
    });
    return { name, deleted: true as const };
  });
}
