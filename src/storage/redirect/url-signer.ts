/** Adds an expiring signature to a URL, for a CDN (or nginx) to verify before it serves the object. */
export interface UrlSigner {
  sign(url: URL, expiresAt: Date): URL;
}

/** Query parameter names, for a CDN that expects other ones than a scheme's defaults. */
export interface SignerParams {
  signature?: string;
  expires?: string;
}

/**
 * A scheme that puts a signature and the expiry into the query. The expiry is whole unix seconds in decimal, as
 * nginx's secure_link and the CDNs take it; parameters of the same names already in the URL are replaced.
 */
export function querySigner(
  names: Required<SignerParams>,
  signature: (url: URL, expires: string) => string,
): UrlSigner {
  return {
    sign(url, expiresAt) {
      const expires = String(Math.floor(expiresAt.getTime() / 1000));
      const signed = new URL(url);
      signed.searchParams.set(names.signature, signature(url, expires));
      signed.searchParams.set(names.expires, expires);
      return signed;
    },
  };
}

/** Rejects an expiry that would make every redirect URL dead on arrival. */
export function checkExpiresIn(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new RangeError(`expiresInSeconds must be > 0: ${seconds}`);
  return seconds;
}
