/** Size limits of the event (SPEC §1), in a module of their own so light code can read them without loading the validator. */

/** Most characters of `session`, `key` and the metadata strings. */
export const MAX_FIELD_CHARS = 256;
