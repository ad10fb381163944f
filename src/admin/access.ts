import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { RegistryError } from "../errors/oci-errors.js";

function loopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith("::ffff:") ? address.slice(7) : address;
  return a === "::1" || a.startsWith("127.");
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Who may use the admin API: a loopback caller (the operator on the machine), or anyone presenting
 * `admin.token` as a bearer token. Without a configured token, other hosts get 403; with one, a wrong or missing
 * token is 401. A loopback caller that presents a wrong token is refused too: a mistake should show.
 */
export function checkAdminAccess(req: IncomingMessage, token: string | undefined): void {
  const auth = req.headers.authorization;
  const bearer = auth?.startsWith("Bearer ") ? auth.slice(7).trim() : undefined;
  if (bearer !== undefined || (!loopback(req.socket.remoteAddress) && token !== undefined)) {
    if (token !== undefined && bearer !== undefined && sameToken(bearer, token)) return;
    throw new RegistryError("UNAUTHORIZED", "the admin API needs a valid admin token", undefined, {
      "WWW-Authenticate": 'Bearer realm="hubmirror-admin"',
    });
  }
  if (loopback(req.socket.remoteAddress)) return;
  throw new RegistryError(
    "DENIED",
    "the admin API answers loopback callers only; set admin.token to use it from other hosts",
  );
}
