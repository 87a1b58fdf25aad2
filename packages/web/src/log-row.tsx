/** One row of the terminal view: an output line, a step header or exit, or a structured event. */
import { memo } from 'react';
import { AnsiText } from './ansi-text.tsx';
import type { ExitInfo, Row } from './rows.ts';
import { clock, duration, exitLabel } from './rows.ts';

export interface RowProps {
  row: Row;
  href: string;
  showTs: boolean;
  terms: string[];
  current: boolean;
  /** The row's place in the session (its first event's), or null while unknown. */
  lineNumber: number | null;
  /** For a step header: whether its section is collapsed, and its exit once known. */
  collapsed?: boolean;
  exit?: ExitInfo | undefined;
  onToggle?: (section: string) => void;
  onLink: (id: string) => void;
}

export function ExitBadge({ exit }: { exit: ExitInfo }) {
  const ok = exit.code === 0 && !exit.signal;
  return <span className={`badge ${ok ? 'ok' : 'fail'}`}>{exitLabel(exit)}</span>;
}

/** A step header's title: the step's name (`--step`), else the command's program and first arguments (the whole command is its tooltip). */
function stepName(row: Row): string {
  if (row.step) return row.step;
  const cmd = row.command ?? row.text;
  return cmd.length > 60 ? `${cmd.slice(0, 59)}…` : cmd;
}

export const LogRow = memo(function LogRow({ row, href, showTs, terms, current, lineNumber, collapsed, exit, onToggle, onLink }: RowProps) {
  const cls = `line ${row.kind}${current ? ' current' : ''}`;
  const gutter = (
    <a
      className="gutter"
      href={href}
      aria-label={`Link to line ${lineNumber ?? row.id}`}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        onLink(row.id);
      }}
    >
      {showTs ? clock(row.ts) : lineNumber === null ? '#' : lineNumber}
    </a>
  );
  if (row.kind === 'start') {
    const section = row.section ?? row.id;
    return (
      <div className={cls} data-id={row.id}>
        {gutter}
        <button type="button" className="step-toggle" aria-expanded={!collapsed} onClick={() => onToggle?.(section)} title={row.command ?? row.text}>
          <span aria-hidden="true">{collapsed ? '▸' : '▾'}</span> <strong className="step-name">{stepName(row)}</strong>
        </button>
        {row.tty ? (
          <span className="badge tty" title="Run in a pseudo-terminal (logsrv run --tty): stdout and stderr arrived as one stream">
            tty
          </span>
        ) : null}
        {exit ? (
          <>
            {exit.durationMs !== null ? <span className="step-duration">{duration(exit.durationMs)}</span> : null}
            <ExitBadge exit={exit} />
          </>
        ) : (
          <span className="badge running">running</span>
        )}
      </div>
    );
  }
  if (row.kind === 'exit' && row.exit) {
    return (
      <div className={cls} data-id={row.id}>
        {gutter}
        <span className="text">
          {row.step ? `${row.step}: ` : ''}
          <ExitBadge exit={row.exit} />
          {row.exit.durationMs !== null ? <span className="step-duration"> after {duration(row.exit.durationMs)}</span> : null}
        </span>
      </div>
    );
  }
  return (
    <div className={cls} data-id={row.id}>
      {gutter}
      {row.kind === 'err' ? <span className="visually-hidden">stderr: </span> : null}
      <span className="text">
        <AnsiText text={row.text} terms={terms} />
      </span>
    </div>
  );
});
