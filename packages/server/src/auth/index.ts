export { HttpAuth, ingestRestriction, requiredScope, tokenOf } from './http-auth.js';
export type { CreateTokenOptions, Scope, TokenEntry } from './token-store.js';
export { createToken, readTokenFile, revokeToken, SCOPES, tokensPath } from './token-store.js';
