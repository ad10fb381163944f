import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import type { Dispatcher } from "undici";
import { RegistryError } from "../errors/oci-errors.js";
import { gate } from "./replay-handler.js";

const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // 0.0.0.0 reaches the local host on Linux
  ["10.0.0.0", 8],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv6");
}

/** Loopback, private, link-local or unspecified; an IPv4-mapped IPv6 address counts as its IPv4 address. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return PRIVATE.check(mapped, "ipv4");
  const family = isIP(address);
  return family !== 0 && PRIVATE.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** `[::1]` → `::1`: URL keeps the brackets of an IPv6 host. */
function bare(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, "$1");
}

/**
 * Whether a token realm may be contacted: the upstream's own host name (any port, as registries and their
 * token servers run side by side), or one of `allowed` (origins or URLs).
 */
export function realmPolicy(upstream: URL, allowed: readonly string[]): (realm: URL) => boolean {
  const origins = new Set(allowed.map((a) => new URL(a).origin));
  return (realm) => realm.hostname === upstream.hostname || origins.has(realm.origin);
}

/** Realms well-known upstreams send, used when no `tokenRealms` are configured. */
export function defaultTokenRealms(upstream: URL): string[] {
  return upstream.hostname === "registry-1.docker.io" ? ["https://auth.docker.io"] : [];
}

async function refusePrivate(hostname: string): Promise<void> {
  const host = bare(hostname);
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  if (addresses.some(isPrivateAddress)) {
    throw new RegistryError("UPSTREAM_ERROR", `redirect to a private address refused: ${host}`);
  }
}

/**
 * Refuses, before any connection, requests to a private, loopback or link-local address (a redirect an upstream
 * or its CDN sent), except to the upstream's own host name. The name is resolved here and again by the
 * connection: a DNS answer that changes in between (rebinding) is not covered.
 */
export function ssrfGuard(upstream: URL, allowPrivate: boolean): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    const origin = typeof opts.origin === "string" ? new URL(opts.origin) : opts.origin;
    if (allowPrivate || !origin || origin.hostname === upstream.hostname) return dispatch(opts, handler);
    return gate(dispatch, opts, handler, () => refusePrivate(origin.hostname));
  };
}
