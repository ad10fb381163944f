import type { StorageDriver } from "../driver.js";
import { DriverWrapper } from "./driver-wrapper.js";
import { checkExpiresIn, type UrlSigner } from "./url-signer.js";

export interface CdnRedirectOptions {
  /** Where the CDN serves the storage root, e.g. `https://cdn.example.com/mirror`; no credentials or query. */
  baseUrl: string;
  signer: UrlSigner;
  /** How long a redirect URL stays valid. */
  expiresInSeconds: number;
}

/**
 * Sends clients to a CDN in front of the storage with a signed, expiring URL (Distribution's cloudfront
 * middleware): only redirectURL changes, the mirror still reads and writes through the wrapped driver.
 */
export class CdnRedirect extends DriverWrapper {
  private readonly base: URL;
  private readonly prefix: string;
  private readonly signer: UrlSigner;
  private readonly expiresInMs: number;

  constructor(inner: StorageDriver, o: CdnRedirectOptions) {
    super(inner);
    const base = new URL(o.baseUrl);
    // The signature is the only secret a redirect may carry: clients see it, proxies and logs keep it.
    if (base.username || base.password || base.search || base.hash) {
      throw new Error(
        `CDN base URL must have no credentials, query or fragment: ${base.origin}${base.pathname}`,
      );
    }
    this.base = base;
    this.prefix = base.pathname.replace(/\/+$/, "");
    this.signer = o.signer;
    this.expiresInMs = checkExpiresIn(o.expiresInSeconds) * 1000;
  }

  // No stat first: the caller asks only for content its index holds, and a stat would cost a storage round trip.
  override async redirectURL(path: string): Promise<string> {
    const url = new URL(this.base);
    // The setter percent-encodes what a path may not hold; "%" is escaped first so it stays literal.
    url.pathname = this.prefix + path.replaceAll("%", "%25");
    return this.signer.sign(url, new Date(Date.now() + this.expiresInMs)).href;
  }
}
