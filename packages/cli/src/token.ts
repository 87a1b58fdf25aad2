/** `logsrv token create|list|revoke` (SPEC §4): manages the hashed token file of a data dir. */
import type { Scope } from '@logsrv/server';
// The token store only (node:fs, node:crypto): the whole server would cost every logsrv command ~1 s to load.
import { createToken, readTokenFile, revokeToken, SCOPES } from '@logsrv/server/tokens';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';

function dataDirOption(): Option {
  return new Option('--data <dir>', 'data directory of the server').env('LOGSRV_DATA').default('./data');
}

function collectScope(value: string, prev: Scope[] = []): Scope[] {
  for (const s of value.split(',')) {
    if (!(SCOPES as readonly string[]).includes(s)) throw new InvalidArgumentError(`scope must be one of ${SCOPES.join(', ')}, got ${JSON.stringify(s)}`);
    prev.push(s as Scope);
  }
  return prev;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number ≥ 1, got ${JSON.stringify(value)}`);
  return n;
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('create, list and revoke API tokens (stored hashed in the data dir)');
  token
    .command('create')
    .description('print a new token; it is shown once and stored only as a hash')
    .requiredOption('--scope <scope>', `one of ${SCOPES.join(', ')}; repeat or comma-separate for several (admin implies all)`, collectScope)
    .option('--session-prefix <prefix>', 'the token reaches only sessions whose name starts with this')
    .option('--component <name>', 'events sent with the token must carry this component')
    .option('--name <text>', 'a label shown by `token list`')
    .option('--events-per-second <n>', 'event quota: past it, ingest with this token answers 429 with Retry-After', positiveInt)
    .option('--events-burst <n>', 'events the token may send at once within its quota (default: twice --events-per-second)', positiveInt)
    .addOption(dataDirOption())
    .action(
      (o: { scope: Scope[]; sessionPrefix?: string; component?: string; name?: string; eventsPerSecond?: number; eventsBurst?: number; data: string }) => {
        if (o.eventsBurst !== undefined && o.eventsPerSecond === undefined) {
          process.stderr.write('logsrv token create: --events-burst needs --events-per-second\n');
          process.exit(2);
        }
        const { token: clear, entry } = createToken(o.data, {
          scopes: o.scope,
          sessionPrefix: o.sessionPrefix,
          component: o.component,
          name: o.name,
          eventsPerSecond: o.eventsPerSecond,
          eventsBurst: o.eventsBurst,
        });
        process.stdout.write(`${clear}\n`);
        process.stderr.write(`token ${entry.id} created with scopes ${entry.scopes.join(', ')}; store it now, it cannot be shown again\n`);
      },
    );
  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--json', 'one JSON object per token')
    .addOption(dataDirOption())
    .action((o: { json?: boolean; data: string }) => {
      for (const t of readTokenFile(o.data).tokens) {
        const { hash: _hash, ...shown } = t;
        if (o.json) {
          process.stdout.write(`${JSON.stringify(shown)}\n`);
          continue;
        }
        const limits = [
          t.sessionPrefix !== null ? `sessions ${t.sessionPrefix}*` : '',
          t.component !== null ? `component ${t.component}` : '',
          t.eventsPerSecond ? `quota ${t.eventsPerSecond} events/s, burst ${t.eventsBurst}` : '',
        ]
          .filter(Boolean)
          .join(', ');
        const state = t.revokedAt ? `revoked ${t.revokedAt}` : 'active';
        process.stdout.write(`${t.id}  ${t.scopes.join(',').padEnd(18)} ${state.padEnd(32)} ${t.name ?? ''}${limits ? `  (${limits})` : ''}\n`);
      }
    });
  token
    .command('revoke')
    .description('revoke a token by id; a running server stops accepting it within a second and closes its tails')
    .argument('<id>', 'token id, as `token list` shows')
    .addOption(dataDirOption())
    .action((id: string, o: { data: string }) => {
      if (!revokeToken(o.data, id)) {
        process.stderr.write(`logsrv token revoke: no active token with id ${id} in ${o.data}\n`);
        process.exit(1);
      }
      process.stderr.write(`token ${id} revoked\n`);
    });
}
