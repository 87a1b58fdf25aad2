/**
 * Terminal escape sequences are not words. Command output is full of them (`\e[31mFAIL\e[0m`),
 * and the tokenizer would glue their tails to the text after them (`31mfail`), so `q=FAIL` would
 * miss the line. Text is searched as a terminal shows it: CSI sequences (colours, cursor moves),
 * OSC sequences (titles, hyperlinks) and other ESC sequences removed. The index (day-index.ts)
 * and every JavaScript match (text-query.ts: tails, days without an index) apply this same
 * function before the tokenizer, which stays an exact replica of SQLite's.
 */

/**
 * CSI (`ESC [` … final byte) and OSC (`ESC ]` … BEL or `ESC \`) sequences, as regexp source: also
 * what the HTML rendering removes (query/render.ts), with its own rule for the rest.
 */
export const CSI_OSC_SOURCE = String.raw`\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?`;

/** CSI, OSC, and the other ESC sequences (intermediate bytes, then a final byte). */
const ESCAPE_SEQUENCE = new RegExp(`${CSI_OSC_SOURCE}|\\u001b[ -/]*[0-~]?`, 'g');

export function stripEscapes(text: string): string {
  return text.indexOf('\u001b') < 0 ? text : text.replace(ESCAPE_SEQUENCE, '');
}
