/**
 * `logsrv archive --before DATE` and `logsrv restore FILE` (SPEC §4): move whole days out of a
 * data directory into compressed archives and back. Safe beside a running server on the same
 * directory: today's file is never touched, and the server's readers notice days that come and go.
 */
import { parseDay, showDay, today } from '@logsrv/server/days';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';

/**
 * The archive module (better-sqlite3, the event schema) is loaded only when these commands run:
 * every other `logsrv` command, `run` above all, starts without it.
 */
const archiveModule = () => import('@logsrv/server/archive');

function dataDirOption(): Option {
  return new Option('--data <dir>', 'data directory of the server (archives go to <data>/archive)').env('LOGSRV_DATA').default('./data');
}

function storeOption(): Option {
  return new Option('--store <url>', 'the store: sqlite (the files in --data) or postgres://HOST:PORT/DBNAME (day partitions are detached)')
    .env('LOGSRV_STORE')
    .default('sqlite');
}

/** The PostgreSQL store, opened for one command (loaded only then, as the SQLite archive module is). */
async function openPostgres(url: string, data: string) {
  const { PostgresStore } = await import('@logsrv/server');
  return PostgresStore.open(url, { archiveDir: `${data}/archive`, applicationName: 'logsrv-archive' });
}

function dateArg(value: string): string {
  const day = parseDay(value);
  if (!day) throw new InvalidArgumentError(`expected a date as YYYY-MM-DD, got ${JSON.stringify(value)}`);
  return day;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

async function fail(command: string, err: unknown): Promise<never> {
  const { PgArchiveError } = await import('@logsrv/server');
  if (err instanceof (await archiveModule()).ArchiveError || err instanceof PgArchiveError) {
    process.stderr.write(`logsrv ${command}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  throw err;
}

export function registerArchive(program: Command): void {
  program
    .command('archive')
    .description('move whole days before a date out of the store into <data>/archive/events-YYYYMMDD.db.gz')
    .requiredOption('--before <date>', 'archive the days before this UTC date (YYYY-MM-DD, at most today)', dateArg)
    .addOption(dataDirOption())
    .addOption(storeOption())
    .action(async (o: { before: string; data: string; store: string }) => {
      try {
        let days: Awaited<ReturnType<Awaited<ReturnType<typeof archiveModule>>['archiveDays']>>;
        if (o.store === 'sqlite') days = await (await archiveModule()).archiveDays(o.data, o.before, today());
        else {
          const store = await openPostgres(o.store, o.data);
          try {
            days = await store.archive(o.before, today());
          } finally {
            await store.close();
          }
        }
        if (days.length === 0) process.stderr.write(`nothing to archive: no day before ${showDay(o.before)} in ${o.data}\n`);
        for (const d of days) {
          process.stdout.write(`archived ${showDay(d.day)}: ${d.events} events, ${mb(d.bytes)} → ${d.file} (${mb(d.archiveBytes)})\n`);
        }
      } catch (err) {
        await fail('archive', err);
      }
    });
  program
    .command('restore')
    .description('put an archived day back into the store (a running server serves it at once)')
    .argument('<file>', 'an archive made by `logsrv archive` (events-YYYYMMDD.db.gz)')
    .addOption(dataDirOption())
    .addOption(storeOption())
    .action(async (file: string, o: { data: string; store: string }) => {
      try {
        if (o.store === 'sqlite') {
          const r = await (await archiveModule()).restoreArchive(o.data, file);
          process.stdout.write(`restored ${showDay(r.day)}: ${r.events} events from ${file} → ${r.file}\n`);
          return;
        }
        const store = await openPostgres(o.store, o.data);
        try {
          const r = await store.restore(file);
          process.stdout.write(
            `restored ${showDay(r.day)}: ${r.events} events from ${file} → the day's partition in ${(await import('@logsrv/server')).redactUrl(o.store)}\n`,
          );
        } finally {
          await store.close();
        }
      } catch (err) {
        await fail('restore', err);
      }
    });
}
