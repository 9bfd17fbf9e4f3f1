import { Command } from 'commander';
import {
  addToWatchlist,
  createWatchlist,
  deleteWatchlist,
  findIdentity,
  removeFromWatchlist,
  setWatchlistActive,
  slugify,
  type Gallery,
} from '../match/gallery';
import { addCommonOptions, configFrom, listOption, openGallery, type CommonFlags } from './common';

/** Identity ids from ids or names given on the command line; unknown ones are an error naming them. */
function resolveIds(gallery: Gallery, given: string[]): string[] {
  const ids: string[] = [];
  const unknown: string[] = [];
  for (const g of given) {
    const hit = findIdentity(gallery, g) ?? findIdentity(gallery, slugify(g)) ?? gallery.identities.find((i) => i.name === g);
    if (hit) ids.push(hit.id);
    else unknown.push(g);
  }
  if (unknown.length) {
    const known = gallery.identities.map((i) => i.id).join(', ') || '(none enrolled)';
    throw new Error(`unknown identit${unknown.length > 1 ? 'ies' : 'y'} ${unknown.join(', ')}; enrolled: ${known}`);
  }
  return ids;
}

export function registerWatchlistCommand(program: Command): void {
  const wl = program.command('watchlist').description('Named sets of identities; only identities on an active watchlist alert');
  const mutate = (name: string, description: string, configure: (c: Command) => Command, change: (g: Gallery, name: string, opts: Record<string, unknown>) => Gallery) => {
    addCommonOptions(configure(wl.command(name).argument('<watchlist>').description(description)), { models: false }).action(
      async (watchlist: string, opts: CommonFlags & Record<string, unknown>) => {
        const config = configFrom(opts);
        const { store, gallery } = await openGallery(config);
        const next = change(gallery, watchlist, opts);
        await store.save(next);
        const w = next.watchlists.find((x) => x.name === watchlist);
        process.stdout.write(w ? `watchlist ${w.name}: ${w.active ? 'active' : 'inactive'}, ${w.identities.length} identities (${w.identities.join(', ')})\n` : `watchlist ${watchlist} deleted\n`);
      },
    );
  };
  mutate('create', 'Create a watchlist', (c) => c.requiredOption('--identities <a,b,...>', 'identity ids or names', listOption).option('--inactive', 'create it inactive'), (g, n, o) =>
    createWatchlist(g, n, { active: !o.inactive, identities: resolveIds(g, o.identities as string[]) }),
  );
  mutate('add', 'Add identities to a watchlist', (c) => c.requiredOption('--identities <a,b,...>', 'identity ids or names', listOption), (g, n, o) => addToWatchlist(g, n, resolveIds(g, o.identities as string[])));
  mutate('remove', 'Remove identities from a watchlist', (c) => c.requiredOption('--identities <a,b,...>', 'identity ids or names', listOption), (g, n, o) => removeFromWatchlist(g, n, resolveIds(g, o.identities as string[])));
  mutate('activate', 'Activate a watchlist', (c) => c, (g, n) => setWatchlistActive(g, n, true));
  mutate('deactivate', 'Deactivate a watchlist', (c) => c, (g, n) => setWatchlistActive(g, n, false));
  mutate('delete', 'Delete a watchlist', (c) => c, (g, n) => deleteWatchlist(g, n));
  addCommonOptions(wl.command('list').description('List watchlists').option('--json', 'print JSON'), { models: false }).action(async (opts: CommonFlags & { json?: boolean }) => {
    const { gallery } = await openGallery(configFrom(opts));
    if (opts.json) process.stdout.write(`${JSON.stringify(gallery.watchlists)}\n`);
    else for (const w of gallery.watchlists) process.stdout.write(`${w.name.padEnd(20)} ${w.active ? 'active  ' : 'inactive'} ${w.identities.join(', ')}\n`);
  });
}
