import { createHmac } from "node:crypto";
import { querySigner, type SignerParams, type UrlSigner } from "./url-signer.js";

/**
 * A timestamp scheme like Qiniu's and Aliyun's CDN URL authentication, with HMAC-SHA256 in place of MD5:
 *
 *   string to sign   "<path>:<e>"   path: the URL's path exactly as sent (percent-encoded, without the query);
 *                                   e: the expiry, unix seconds, decimal
 *   token            base64url(HMAC-SHA256(key = secret as UTF-8, string to sign)), no padding (43 characters)
 *   query            ?e=<e>&token=<token>
 *
 * The URL is valid while e >= the verifier's current unix time. `e` is digits only, so the last ":" splits the
 * string unambiguously even when the path holds one.
 */
export function hmacSha256Signer(secret: string, params: SignerParams = {}): UrlSigner {
  return querySigner({ signature: "token", expires: "e", ...params }, (url, e) =>
    createHmac("sha256", secret).update(`${url.pathname}:${e}`).digest("base64url"),
  );
}
