export type { Phrase, TextQuery } from './text-query.js';
export { ftsExpression, matchesText, parseTextQuery } from './text-query.js';
export { forEachToken, tokenize } from './tokenize.js';
export { TOKENIZER } from './unicode61-table.js';
