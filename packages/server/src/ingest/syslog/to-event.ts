/**
 * A parsed syslog message as an event (README "Shippers", mapping table): MSG → `value`, APP-NAME
 * or TAG → `component`, severity → `level` (`err` and worse → `error`, `warning` → `warn`,
 * `notice`/`info` → `info`, `debug` → `debug`), MSGID → `key` (else `syslog`), TIMESTAMP → `ts`;
 * facility, severity, hostname, PROCID, MSGID and the structured data go to `attrs`. The session
 * is an SD param named `session` (in any SD element) when present, else the `--syslog-session`
 * template over `hostname`, `app`, `procid`, `msgid`, `facility`, `severity` and `peer` (the
 * sender's address).
 */

import type { SessionTemplate } from '../session-template.js';
import type { Candidate } from '../shipper-ingest.js';
import { FACILITIES, SEVERITIES, type SyslogMessage } from './parse-syslog.js';

const LEVELS = ['error', 'error', 'error', 'error', 'warn', 'info', 'info', 'debug'] as const;

export function syslogCandidate(m: SyslogMessage, template: SessionTemplate, peer: string | undefined): Candidate {
  const attrs: Record<string, unknown> = {
    facility: FACILITIES[m.facility] ?? String(m.facility),
    severity: SEVERITIES[m.severity],
  };
  if (m.hostname !== null) attrs.hostname = m.hostname;
  if (m.procid !== null) attrs.procid = m.procid;
  if (m.msgid !== null) attrs.msgid = m.msgid;
  let session: string | undefined;
  if (m.sd !== null) {
    attrs.sd = m.sd;
    for (const id in m.sd) {
      const v = m.sd[id]?.session;
      if (v !== undefined && v !== '') {
        session = v;
        break;
      }
    }
  }
  if (peer !== undefined) attrs.peer = peer;
  const event: Record<string, unknown> = {
    key: m.msgid ?? 'syslog',
    value: m.msg,
    level: LEVELS[m.severity],
    attrs,
  };
  if (session !== undefined) event.session = session;
  if (m.ts !== null) event.ts = m.ts;
  if (m.app !== null) event.component = m.app;
  const fallback =
    session === undefined
      ? template.resolve((name) => {
          switch (name) {
            case 'hostname':
              return m.hostname ?? undefined;
            case 'app':
              return m.app ?? undefined;
            case 'procid':
              return m.procid ?? undefined;
            case 'msgid':
              return m.msgid ?? undefined;
            case 'facility':
              return attrs.facility as string;
            case 'severity':
              return attrs.severity as string;
            case 'peer':
              return peer;
            default:
              return undefined;
          }
        })
      : undefined;
  return { event, fallback };
}
