/**
 * When a session has ended (SPEC §3): an event with key `session.end`, or the agent's `step.exit`
 * whose value has `final: true`. Tails send `event: end` after such an event and close.
 */
export const SESSION_END_KEY = 'session.end';
export const STEP_EXIT_KEY = 'step.exit';

/**
 * Whether an event marks the end of its session. `value` is the stored form: JSON text when
 * `vjson` is 1 (numbers, booleans, objects), the plain string otherwise.
 */
export function isSessionEnd(key: string, value: string, vjson: number): boolean {
  if (key === SESSION_END_KEY) return true;
  if (key !== STEP_EXIT_KEY || vjson !== 1 || !value.includes('"final"')) return false;
  try {
    const v = JSON.parse(value) as unknown;
    return typeof v === 'object' && v !== null && (v as { final?: unknown }).final === true;
  } catch {
    return false;
  }
}
