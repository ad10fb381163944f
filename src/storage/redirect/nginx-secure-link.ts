import { createHash } from "node:crypto";
import { querySigner, type SignerParams, type UrlSigner } from "./url-signer.js";

/**
 * nginx's secure_link module, the scheme its documentation describes (without the client address):
 *
 *   string to sign   "<expires><path> <secret>"   expires: unix seconds, decimal; path: the URL's path,
 *                                                 percent-decoded (nginx's $uri), without the query
 *   md5              base64url(MD5(string to sign)), no padding
 *   query            ?md5=<md5>&expires=<expires>
 *
 * verified by
 *
 *   secure_link     $arg_md5,$arg_expires;
 *   secure_link_md5 "$secure_link_expires$uri <secret>";
 *
 * MD5 is what nginx offers; prefer the HMAC scheme where the CDN can run it.
 */
export function nginxSecureLinkSigner(secret: string, params: SignerParams = {}): UrlSigner {
  return querySigner({ signature: "md5", expires: "expires", ...params }, (url, expires) =>
    createHash("md5")
      .update(`${expires}${decodeURIComponent(url.pathname)} ${secret}`)
      .digest("base64url"),
  );
}
