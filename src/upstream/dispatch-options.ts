import type { Dispatcher } from "undici";

export type RequestKind = "manifest" | "blob" | "tags" | "referrers";

/**
 * Dispatch options plus what our interceptors need to know about a request. undici passes unknown keys on
 * untouched, redirect hops included, so the CDN hop of a blob GET is still counted as a blob.
 */
export interface UpstreamDispatchOptions extends Dispatcher.DispatchOptions {
  kind?: RequestKind;
  /** The token scope, e.g. `repository:library/alpine:pull`. */
  scope?: string;
}

type Headers = Record<string, string | string[]>;

function put(out: Headers, name: unknown, value: unknown): void {
  const key = String(name).toLowerCase();
  if (typeof value === "string") out[key] = value;
  else if (Array.isArray(value)) out[key] = value.map(String);
}

/**
 * Request headers as one lower-cased record, whichever of undici's shapes they came in: the redirect handler
 * hands on a flat `[name, value, …]` array.
 */
export function headerRecord(headers: Dispatcher.DispatchOptions["headers"]): Headers {
  const out: Headers = {};
  if (!headers) return out;
  if (Array.isArray(headers) && !Array.isArray(headers[0])) {
    for (let i = 0; i < headers.length; i += 2) put(out, headers[i], headers[i + 1]);
  } else if (Symbol.iterator in headers) {
    for (const [name, value] of headers) put(out, name, value);
  } else {
    for (const [name, value] of Object.entries(headers)) put(out, name, value);
  }
  return out;
}

/** The first value of a response header. */
export function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
