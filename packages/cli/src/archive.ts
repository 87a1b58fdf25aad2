/**
 * `logsrv archive --before DATE` and `logsrv restore FILE` (SPEC §4): move whole days out of a
 * data directory into compressed archives and back. Safe beside a running server on the same
 * directory: today's file is never touched, and the server's readers notice days that come and go.
 */
// The archive module only (better-sqlite3, node:zlib): not the whole server.

import { dayOf } from '@logsrv/protocol';
import { ArchiveError, archiveDays, parseDay, restoreArchive, showDay } from '@logsrv/server/archive';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';

function dataDirOption(): Option {
  return new Option('--data <dir>', 'data directory of the server').env('LOGSRV_DATA').default('./data');
}

function dateArg(value: string): string {
  const day = parseDay(value);
  if (!day) throw new InvalidArgumentError(`expected a date as YYYY-MM-DD, got ${JSON.stringify(value)}`);
  return day;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

function fail(command: string, err: unknown): never {
  if (err instanceof ArchiveError) {
    process.stderr.write(`logsrv ${command}: ${err.message}\n`);
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
    .action(async (o: { before: string; data: string }) => {
      try {
        const days = await archiveDays(o.data, o.before, dayOf(Date.now()));
        if (days.length === 0) process.stderr.write(`nothing to archive: no day before ${showDay(o.before)} in ${o.data}\n`);
        for (const d of days) {
          process.stdout.write(`archived ${showDay(d.day)}: ${d.events} events, ${mb(d.bytes)} → ${d.file} (${mb(d.archiveBytes)})\n`);
        }
      } catch (err) {
        fail('archive', err);
      }
    });
  program
    .command('restore')
    .description('put an archived day back into the store (a running server serves it at once)')
    .argument('<file>', 'an archive made by `logsrv archive` (events-YYYYMMDD.db.gz)')
    .addOption(dataDirOption())
    .action(async (file: string, o: { data: string }) => {
      try {
        const r = await restoreArchive(o.data, file);
        process.stdout.write(`restored ${showDay(r.day)}: ${r.events} events from ${file} → ${r.file}\n`);
      } catch (err) {
        fail('restore', err);
      }
    });
}
