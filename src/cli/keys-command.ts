/**
 * `facestream keys create --role admin|operator|viewer [--label TEXT] | list | revoke ID` [--store PATH]:
 * API keys of the management API. `create` prints the new key once on stdout (only its SHA-256 is stored); list and
 * revoke show key ids, never keys. Keys live where the API keeps its data: `<store>/api-keys.json` (0600), or the
 * Redis of distributed mode (`--store redis://…` or config redis.url).
 */
import { Command, InvalidArgumentError } from 'commander';
import { openKeyStore } from '../api/create-context';
import { isRole, ROLES, type Role } from '../api/auth/keys';
import { configFrom } from './common';

interface KeyFlags {
  config?: string;
  store?: string;
  json?: boolean;
}

function role(value: string): Role {
  if (!isRole(value)) throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')}, got "${value}"`);
  return value;
}

function label(value: string): string {
  if (value.length > 100 || /[\u0000-\u001f]/.test(value)) throw new InvalidArgumentError('expected a label of at most 100 printable characters');
  return value;
}

async function withKeys<T>(flags: KeyFlags, fn: (keys: ReturnType<typeof openKeyStore>['keys']) => Promise<T>): Promise<T> {
  const config = configFrom({ config: flags.config, store: flags.store });
  const store = openKeyStore(config, flags.store !== undefined);
  try {
    return await fn(store.keys);
  } finally {
    await store.close();
  }
}

export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('API keys of the management API (facestream api)');
  const common = (c: Command) =>
    c
      .option('--config <file>', 'YAML config file (default: $FACESTREAM_CONFIG)')
      .option('--store <path>', 'store directory, or redis://host:port[/db] for distributed mode (default: config store / redis.url)');

  common(
    keys
      .command('create')
      .description('Create a key and print it once (clients send it as "Authorization: Bearer <key>")')
      .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, role)
      .option('--label <text>', 'what the key is for (shown by keys list)', label)
      .option('--json', 'print {id, role, label, created, key} as JSON'),
  ).action(async (opts: KeyFlags & { role: Role; label?: string }) => {
    const { key, info } = await withKeys(opts, (k) => k.create(opts.role, opts.label));
    if (opts.json) process.stdout.write(`${JSON.stringify({ ...info, key })}\n`);
    else {
      process.stdout.write(`${key}\n`);
      process.stderr.write(`created key ${info.id} (role ${info.role}); it is shown only now: store it safely\n`);
    }
  });

  common(keys.command('list').description('List keys (ids, roles, labels; never the keys)').option('--json', 'print JSON')).action(async (opts: KeyFlags) => {
    const list = await withKeys(opts, (k) => k.list());
    if (opts.json) process.stdout.write(`${JSON.stringify(list)}\n`);
    else for (const k of list) process.stdout.write(`${k.id}  ${k.role.padEnd(8)}  ${k.created}  ${k.label ?? ''}\n`);
  });

  common(keys.command('revoke').description('Revoke a key (takes effect at once, also in a running server)').argument('<id>', 'key id (from keys list)')).action(async (id: string, opts: KeyFlags) => {
    const removed = await withKeys(opts, (k) => k.revoke(id));
    if (!removed) throw new Error(`no API key with id "${id.slice(0, 40)}" (see facestream keys list)`);
    process.stdout.write(`revoked key ${id}\n`);
  });
}
