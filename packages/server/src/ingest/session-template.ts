/**
 * The session of a shipped event that carries none (no `session` attribute, label or field, and no
 * registered `user`/`terminal`): a template per protocol, configured with `--<protocol>-session`.
 *
 * Grammar: alternatives separated by `|`, tried in order; each is literal text with `{name}`
 * placeholders. An alternative applies when every placeholder in it has a non-empty value; the
 * first that applies gives the session (cut to 256 characters). A template without placeholders
 * always applies, so `shipped` puts everything in one session. Names are per protocol (README,
 * "Shippers"): `{hostname}/{app}` for syslog, `{trace_id}` for OTLP, `{labels}` for Loki, ...
 */
import { MAX_FIELD_CHARS } from '@logsrv/protocol/limits';

type Part = string | { name: string };

export class SessionTemplate {
  private readonly alternatives: Part[][];

  /** Throws with a message naming the mistake; config validation calls {@link checkSessionTemplate}. */
  constructor(readonly spec: string) {
    this.alternatives = spec.split('|').map(parseAlternative);
  }

  /** The session for one event, or undefined when no alternative applies. */
  resolve(get: (name: string) => string | undefined): string | undefined {
    outer: for (const alt of this.alternatives) {
      let out = '';
      for (const p of alt) {
        if (typeof p === 'string') out += p;
        else {
          const v = get(p.name);
          if (v === undefined || v === '') continue outer;
          out += v;
        }
      }
      if (out.length > 0) return out.length > MAX_FIELD_CHARS ? out.slice(0, MAX_FIELD_CHARS) : out;
    }
    return undefined;
  }
}

function parseAlternative(text: string): Part[] {
  const parts: Part[] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('{', at);
    if (open === -1) {
      parts.push(text.slice(at));
      break;
    }
    if (open > at) parts.push(text.slice(at, open));
    const close = text.indexOf('}', open);
    if (close === -1) throw new Error(`unclosed '{' in session template ${JSON.stringify(text)}`);
    const name = text.slice(open + 1, close).trim();
    if (name === '' || name.includes('{')) throw new Error(`empty or nested placeholder in session template ${JSON.stringify(text)}`);
    parts.push({ name });
    at = close + 1;
  }
  if (parts.length === 0) throw new Error('empty alternative in session template (two `|` in a row?)');
  return parts;
}

/** A message for a bad template, or null. */
export function checkSessionTemplate(spec: string): string | null {
  try {
    new SessionTemplate(spec);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
