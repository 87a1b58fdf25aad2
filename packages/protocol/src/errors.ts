/**
 * The one error table. Every error the service returns has a stable code, an HTTP status and a
 * message that names the limit and the fix. Codes are public: clients may switch on them.
 */
export const ErrorCodes = {
  LOGSRV_ERR_BODY_TOO_LARGE: { status: 413, text: 'request body too large' },
  LOGSRV_ERR_NO_VALID_EVENTS: { status: 400, text: 'no valid event in the request' },
  LOGSRV_ERR_INVALID_JSON: { status: 400, text: 'body is not valid JSON' },
  LOGSRV_ERR_INVALID_UTF8: { status: 400, text: 'body is not valid UTF-8' },
  LOGSRV_ERR_BAD_ENCODING: { status: 400, text: 'body could not be decompressed' },
  LOGSRV_ERR_UNSUPPORTED_ENCODING: { status: 415, text: 'unsupported Content-Encoding' },
  LOGSRV_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, text: 'unsupported Content-Type' },
  LOGSRV_ERR_BAD_CURSOR: { status: 400, text: 'malformed cursor' },
  LOGSRV_ERR_BAD_PARAM: { status: 400, text: 'invalid query parameter' },
  LOGSRV_ERR_BAD_BODY: { status: 400, text: 'invalid request body' },
  LOGSRV_ERR_UNAUTHORIZED: { status: 401, text: 'missing, invalid or revoked token' },
  LOGSRV_ERR_FORBIDDEN: { status: 403, text: 'token not allowed here' },
  LOGSRV_ERR_RATE_LIMITED: { status: 429, text: 'too many requests from this source' },
  LOGSRV_ERR_QUEUE_FULL: { status: 503, text: 'ingest queue is full' },
  LOGSRV_ERR_QUEUE_UNAVAILABLE: { status: 503, text: 'the queue (Redis) is unavailable' },
  LOGSRV_ERR_SHUTTING_DOWN: { status: 503, text: 'server is shutting down' },
  LOGSRV_ERR_TOO_MANY_TAILS: { status: 503, text: 'too many live tails open' },
  LOGSRV_ERR_DISK_FULL: { status: 507, text: 'the disk of the data directory is full' },
  LOGSRV_ERR_UPLOAD_TIMEOUT: { status: 408, text: 'request body arrived too slowly' },
  LOGSRV_ERR_NOT_FOUND: { status: 404, text: 'not found' },
  LOGSRV_ERR_INTERNAL: { status: 500, text: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/**
 * Why a single event was rejected. Reported per event over HTTP (`rejected[].reason`) and
 * counted in `logsrv_rejected_total{reason}` / `logsrv_dropped_total{reason}`.
 */
export const RejectReasons = [
  'invalid_json',
  'invalid_utf8',
  'line_too_large',
  'not_object',
  'missing_field',
  'wrong_type',
  'too_long',
  'unknown_field',
  'invalid_ts',
  'unresolved_session',
  'forbidden',
  'too_deep',
] as const;

export type RejectReason = (typeof RejectReasons)[number];

/**
 * Why an event was dropped without a reply (UDP): every reject reason, plus the ones that only a
 * fire-and-forget transport has. Counted in `logsrv_dropped_total{transport,reason}`.
 */
export const DropReasons = [...RejectReasons, 'datagram_too_large', 'rate_limited', 'queue_full', 'shutting_down', 'store_error', 'socket_overflow'] as const;

export type DropReason = (typeof DropReasons)[number];

/** An error with a stable code; the HTTP layer maps it through {@link ErrorCodes}. */
export class LogsrvError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ErrorCodes[code].text);
    this.name = 'LogsrvError';
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.details = details;
  }
}

/** `12.0 MiB`, `512 KiB`, `17 bytes`: sizes in messages, so users can compare with the limit. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Number((n / (1024 * 1024)).toFixed(1))} MiB`;
  if (n >= 1024) return `${Number((n / 1024).toFixed(1))} KiB`;
  return `${n} bytes`;
}
