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
  /** For a step header: whether its section is collapsed, and its exit once known. */
  collapsed?: boolean;
  exit?: ExitInfo | undefined;
  onToggle?: (section: string) => void;
  onLink: (id: string) => void;
}

export function ExitBadge({ exit }: { exit: ExitInfo }) {
  const ok = exit.code === 0 && !exit.signal;
  return (
    <span className={`badge ${ok ? 'ok' : 'fail'}`}>
      {exitLabel(exit)}
      {exit.durationMs !== null ? ` · ${duration(exit.durationMs)}` : ''}
    </span>
  );
}

export const LogRow = memo(function LogRow({ row, href, showTs, terms, current, collapsed, exit, onToggle, onLink }: RowProps) {
  const cls = `line ${row.kind}${current ? ' current' : ''}`;
  const gutter = (
    <a
      className="gutter"
      href={href}
      aria-label={`Link to line ${row.id}`}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        onLink(row.id);
      }}
    >
      {showTs ? clock(row.ts) : '#'}
    </a>
  );
  if (row.kind === 'start') {
    const section = row.section ?? row.id;
    return (
      <div className={cls} data-id={row.id}>
        {gutter}
        <button type="button" className="step-toggle" aria-expanded={!collapsed} onClick={() => onToggle?.(section)}>
          <span aria-hidden="true">{collapsed ? '▸' : '▾'}</span> {row.step ? <strong>{row.step}</strong> : null} <code>{row.text}</code>
        </button>
        {exit ? <ExitBadge exit={exit} /> : <span className="badge running">running</span>}
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
