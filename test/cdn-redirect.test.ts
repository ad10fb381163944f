// CdnRedirect's signed URLs against a real nginx in the CDN's place: each scheme's URL fetches the stored bytes,
// and a tampered, misapplied, missing or expired signature is refused.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { parseDigest } from "../src/reference/reference.js";
import { BaseDriver } from "../src/storage/base-driver.js";
import { createFsDriver } from "../src/storage/fs-driver.js";
import { CdnRedirect } from "../src/storage/redirect/cdn-redirect.js";
import { hmacSha256Signer } from "../src/storage/redirect/hmac-sha256.js";
import { nginxSecureLinkSigner } from "../src/storage/redirect/nginx-secure-link.js";
import type { UrlSigner } from "../src/storage/redirect/url-signer.js";
import { blobPath } from "../src/store/layout.js";
import { type CdnNginx, startCdnNginx, tamperedSignature } from "./fixtures/cdn-nginx.js";
import { sha256Digest } from "./helpers.js";

const SECRET = randomBytes(16).toString("hex");
let work: string;
let root: string;
let cdn: CdnNginx;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "hubmirror-cdn-"));
  root = join(work, "storage");
  await createFsDriver(root);
  cdn = await startCdnNginx(root, SECRET, join(work, "nginx"));
});

after(async () => {
  await cdn?.stop();
  await rm(work, { recursive: true, force: true });
});

async function get(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await request(url);
  return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
}

const schemes: [string, (secret: string) => UrlSigner, () => string, string][] = [
  ["nginx secure_link", nginxSecureLinkSigner, () => cdn.secureLinkBase, "md5"],
  ["HMAC-SHA256 (njs)", hmacSha256Signer, () => cdn.hmacBase, "token"],
];

for (const [scheme, signerFor, baseUrl, signatureParam] of schemes) {
  describe(`CdnRedirect through nginx: ${scheme}`, () => {
    const signer = signerFor(SECRET);
    const driver = async () =>
      new BaseDriver(
        new CdnRedirect(await createFsDriver(root), { baseUrl: baseUrl(), signer, expiresInSeconds: 60 }),
      );
    const stored = async (content: Buffer) => {
      const path = blobPath(parseDigest(sha256Digest(content)));
      await (await driver()).putContent(path, content);
      return path;
    };

    it("serves the stored bytes at the signed URL", async () => {
      const content = randomBytes(1 << 20);
      const url = await (await driver()).redirectURL(await stored(content));
      assert.ok(url);
      assert.ok(!url.includes(SECRET), "only the signature travels");
      const res = await get(url);
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(content));
    });

    it("refuses a tampered or missing signature with 403", async () => {
      const url = await (await driver()).redirectURL(await stored(randomBytes(64)));
      assert.ok(url);
      assert.equal((await get(tamperedSignature(url, signatureParam))).status, 403);
      const unsigned = new URL(url);
      unsigned.search = "";
      assert.equal((await get(unsigned.href)).status, 403);
    });

    it("refuses another path's valid signature with 403", async () => {
      const d = await driver();
      const [a, b] = [await stored(randomBytes(64)), await stored(randomBytes(64))];
      const signedA = new URL((await d.redirectURL(a)) ?? "");
      const withAsSignature = new URL((await d.redirectURL(b)) ?? "");
      withAsSignature.search = signedA.search;
      assert.equal((await get(signedA.href)).status, 200);
      assert.equal((await get(withAsSignature.href)).status, 403);
    });

    it("refuses a right signature past its expiry with 410, as nginx documents", async () => {
      const path = await stored(randomBytes(64));
      const url = signer.sign(new URL(`${baseUrl()}${path}`), new Date(Date.now() - 2000));
      assert.equal((await get(url.href)).status, 410);
      assert.equal((await get(tamperedSignature(url.href, signatureParam))).status, 403);
    });
  });
}
