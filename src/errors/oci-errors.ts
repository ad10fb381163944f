import type { ServerResponse } from "node:http";

/**
 * The one table of OCI distribution error codes. The HTTP status always comes from here, never from the call
 * site, so the same condition can't answer 404 in one handler and 400 in another.
 */
export const OCI_ERRORS = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown" },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  TAG_INVALID: { status: 400, message: "manifest tag did not match URI" },
  PAGINATION_NUMBER_INVALID: { status: 400, message: "invalid number of results requested" },
  RANGE_INVALID: { status: 416, message: "invalid content range" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "the operation is unsupported" },
  NOT_FOUND: { status: 404, message: "not found" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
  UPSTREAM_UNAVAILABLE: { status: 503, message: "upstream registry unavailable" },
  UPSTREAM_ERROR: { status: 502, message: "upstream registry answered with an error" },
  STORAGE_UNAVAILABLE: { status: 503, message: "storage unavailable" },
  /** Distribution's: the mirror itself is overloaded (connection cap, request timeout). */
  UNAVAILABLE: { status: 503, message: "service unavailable" },
  /** Not an OCI code: a malformed request (unparsable HTTP; for the admin API, bad JSON or a missing field). */
  REQUEST_INVALID: { status: 400, message: "invalid request" },
  /** Not OCI codes: a request head larger than the limit, or not sent in time (answered at the socket). */
  HEADERS_TOO_LARGE: { status: 431, message: "request headers too large" },
  REQUEST_TIMEOUT: { status: 408, message: "request not received in time" },
  UNKNOWN: { status: 500, message: "unknown error" },
} as const satisfies Record<string, { status: number; message: string }>;

export type OciErrorCode = keyof typeof OCI_ERRORS;

/** An error that maps to one OCI code; thrown anywhere below the HTTP edge. */
export class RegistryError extends Error {
  readonly code: OciErrorCode;
  readonly detail: unknown;
  /** Extra response headers, e.g. Retry-After on TOOMANYREQUESTS. */
  readonly headers: Record<string, string>;

  constructor(code: OciErrorCode, message?: string, detail?: unknown, headers: Record<string, string> = {}) {
    super(message ?? OCI_ERRORS[code].message);
    this.name = "RegistryError";
    this.code = code;
    this.detail = detail;
    this.headers = headers;
  }

  get status(): number {
    return OCI_ERRORS[this.code].status;
  }
}

export function toRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  return new RegistryError("UNKNOWN", "internal error");
}

/** The error envelope `{"errors":[{code,message,detail}]}`. */
export function errorBody(err: RegistryError): string {
  return JSON.stringify({ errors: [{ code: err.code, message: err.message, detail: err.detail ?? null }] });
}

/** Writes the error envelope; HEAD answers carry no body. */
export function sendError(res: ServerResponse, err: RegistryError, head = false): void {
  const body = errorBody(err);
  res.writeHead(err.status, {
    ...err.headers,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}
