import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";

/** Where the mirror is reached: `auth.url` when set (behind a TLS proxy), else what the request itself shows. */
export interface PublicAddress {
  url: URL | undefined;
  domain: string | undefined;
}

/** Whether the browser reached us over TLS: a TLS socket, or a public URL that is https (a TLS proxy in front). */
export function isSecure(req: IncomingMessage, pub: PublicAddress): boolean {
  return (req.socket as TLSSocket).encrypted === true || pub.url?.protocol === "https:";
}

function hostOf(req: IncomingMessage): string {
  return req.headers.host ?? `${req.socket.localAddress}:${req.socket.localPort}`;
}

/** This mirror's origin as the client sees it: the token realm's and the console's. */
export function mirrorOrigin(req: IncomingMessage, pub: PublicAddress): string {
  if (pub.url) return pub.url.origin;
  return `${isSecure(req, pub) ? "https" : "http"}://${hostOf(req)}`;
}

/** Origins a browser request of ours may carry: the public URL's, and the one its Host names. */
export function ownOrigins(req: IncomingMessage, pub: PublicAddress): string[] {
  const own = `${isSecure(req, pub) ? "https" : "http"}://${hostOf(req)}`;
  return pub.url ? [pub.url.origin, own] : [own];
}

/** The Host header's name without the port, lowercased. */
export function hostName(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const h = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
  return h.toLowerCase();
}

/** A personal mirror address `<token>.<domain>[:port]`: the only form dockerd's `registry-mirrors` can carry. */
export function personalAddress(
  secret: string,
  req: IncomingMessage,
  pub: PublicAddress,
): { host: string; url: string } | undefined {
  if (!pub.domain) return undefined;
  const base = pub.url ?? new URL(mirrorOrigin(req, pub));
  const host = `${secret}.${pub.domain}${base.port ? `:${base.port}` : ""}`;
  return { host, url: `${base.protocol}//${host}` };
}

/** The first label of a Host under `domain` (the pull token of a personal address); undefined otherwise. */
export function personalLabel(host: string | undefined, domain: string | undefined): string | undefined {
  const name = hostName(host);
  if (!name || !domain || !name.endsWith(`.${domain}`)) return undefined;
  const label = name.slice(0, -domain.length - 1);
  return label.includes(".") ? undefined : label;
}
