import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hmacSha256Signer } from "./hmac-sha256.js";
import { nginxSecureLinkSigner } from "./nginx-secure-link.js";

// 2^31 - 1: the expiry in nginx's secure_link example. The fractional second is dropped.
const EXPIRES = new Date(2147483647_900);
const PATH = "/cdn/blobs/sha256/ab/abcdef/data";

describe("nginx secure_link signer", () => {
  it("signs base64url(MD5(expires + path + ' ' + secret)) into md5 and expires", () => {
    const url = nginxSecureLinkSigner("s3cret").sign(new URL(`https://cdn.example${PATH}`), EXPIRES);
    // echo -n "2147483647/cdn/blobs/sha256/ab/abcdef/data s3cret" | openssl md5 -binary | openssl base64 \
    //   | tr +/ -_ | tr -d =
    assert.equal(url.href, `https://cdn.example${PATH}?md5=vTdEsbxnnjXUCXzkl3xQOA&expires=2147483647`);
  });

  it("signs the decoded path, as nginx's $uri is", () => {
    const url = nginxSecureLinkSigner("s3cret").sign(new URL("http://cdn.example/x%20y"), EXPIRES);
    // echo -n "2147483647/x y s3cret" | openssl md5 -binary | openssl base64 | tr +/ -_ | tr -d =
    assert.equal(url.searchParams.get("md5"), "B2GRrL0piBYwxLSLcY5LeA");
  });

  it("takes other parameter names and leaves the input URL alone", () => {
    const input = new URL("http://cdn.example/x%20y?keep=1");
    const url = nginxSecureLinkSigner("s3cret", { signature: "s", expires: "t" }).sign(input, EXPIRES);
    assert.equal(url.search, "?keep=1&s=B2GRrL0piBYwxLSLcY5LeA&t=2147483647");
    assert.equal(input.search, "?keep=1");
  });
});

describe("HMAC-SHA256 signer", () => {
  it("signs base64url(HMAC-SHA256(secret, path + ':' + e)) into e and token", () => {
    const url = hmacSha256Signer("s3cret").sign(new URL(`https://cdn.example${PATH}`), EXPIRES);
    // echo -n "/cdn/blobs/sha256/ab/abcdef/data:2147483647" | openssl dgst -sha256 -hmac s3cret -binary \
    //   | openssl base64 -A | tr +/ -_ | tr -d =
    assert.equal(
      url.href,
      `https://cdn.example${PATH}?token=6SQxOkCn5bmzMA1vXhnkVaOlj2ZmpNL8UeqJ4cXYZkA&e=2147483647`,
    );
  });

  it("signs the path as sent, percent-encoded", () => {
    const url = hmacSha256Signer("s3cret").sign(new URL("http://cdn.example/x%20y"), EXPIRES);
    // echo -n "/x%20y:2147483647" | openssl dgst -sha256 -hmac s3cret -binary | openssl base64 -A | tr +/ -_ | tr -d =
    assert.equal(url.searchParams.get("token"), "hVWr7O6uQRon6nTYDowCLiFKYPAH5USiL4RdWyBnhh8");
  });
});
