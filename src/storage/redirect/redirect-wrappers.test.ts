import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StorageDriver } from "../driver.js";
import { MemoryDriver } from "../memory-driver.js";
import { CdnRedirect } from "./cdn-redirect.js";
import { PresignedRedirect } from "./presigned-redirect.js";
import type { UrlSigner } from "./url-signer.js";

type Forwarded = Exclude<keyof StorageDriver, "name" | "redirectURL" | "localFile">;
// A key per method: a method added to StorageDriver fails to compile here until its forwarding is tested.
const ARGS: { [K in Forwarded]: Parameters<NonNullable<StorageDriver[K]>> } = {
  stat: ["/s"],
  reader: ["/r", 3, 4],
  getContent: ["/g"],
  putContent: ["/p", Buffer.from("x")],
  writer: ["/w"],
  move: ["/from", "/to"],
  delete: ["/d"],
  list: ["/l"],
  close: [],
};

/** Records each call and answers it with a value of its own, so a test can tell it came back unchanged. */
function recordingDriver(withLocalFile: boolean) {
  const calls: unknown[][] = [];
  const driver: Record<string, unknown> = { name: "recording" };
  for (const m of [...Object.keys(ARGS), "redirectURL"]) {
    driver[m] = async (...args: unknown[]) => {
      calls.push([m, ...args]);
      return { answerTo: m };
    };
  }
  if (withLocalFile) driver.localFile = (path: string) => `/local${path}`;
  return { driver: driver as unknown as StorageDriver, calls };
}

const fixedSigner: UrlSigner = {
  sign(url, expiresAt) {
    const signed = new URL(url);
    signed.searchParams.set("until", String(expiresAt.getTime()));
    return signed;
  },
};

const wrappers: [string, (inner: StorageDriver) => StorageDriver][] = [
  [
    "CdnRedirect",
    (inner) => new CdnRedirect(inner, { baseUrl: "http://cdn", signer: fixedSigner, expiresInSeconds: 1 }),
  ],
  ["PresignedRedirect", (inner) => new PresignedRedirect(inner, async () => "http://bucket", 1)],
];

for (const [name, wrap] of wrappers) {
  describe(`${name} delegation`, () => {
    it("forwards every method but redirectURL with its arguments and returns the inner result", async () => {
      const { driver, calls } = recordingDriver(false);
      const wrapped = wrap(driver);
      assert.equal(wrapped.name, "recording");
      for (const [method, args] of Object.entries(ARGS)) {
        const call = (wrapped as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
        assert.deepEqual(await call?.apply(wrapped, args), { answerTo: method });
        assert.deepEqual(calls.pop(), [method, ...args]);
      }
      await wrapped.redirectURL("/x");
      assert.deepEqual(calls, [], "redirectURL is the wrapper's own");
    });

    it("has localFile exactly when the inner driver has it", () => {
      assert.equal(wrap(recordingDriver(false).driver).localFile, undefined);
      assert.equal(wrap(recordingDriver(true).driver).localFile?.("/a/b"), "/local/a/b");
    });

    it("keeps the inner driver's data", async () => {
      const inner = new MemoryDriver();
      await wrap(inner).putContent("/k", Buffer.from("v"));
      assert.equal((await inner.getContent("/k")).toString(), "v");
    });
  });
}

describe("CdnRedirect URLs", () => {
  const cdn = (baseUrl: string, expiresInSeconds = 60) =>
    new CdnRedirect(new MemoryDriver(), { baseUrl, signer: fixedSigner, expiresInSeconds });

  it("appends the driver path to the base URL's path and signs it with now + expiresIn", async () => {
    const before = Date.now();
    const url = new URL(
      await cdn("https://cdn.example/mirror/", 600).redirectURL("/blobs/sha256/ab/abc/data"),
    );
    assert.equal(`${url.origin}${url.pathname}`, "https://cdn.example/mirror/blobs/sha256/ab/abc/data");
    const until = Number(url.searchParams.get("until"));
    assert.ok(until >= before + 600_000 && until <= Date.now() + 600_000, `${until}`);
  });

  it("works with a bare origin and percent-encodes only what a path can't hold", async () => {
    assert.match(
      await cdn("http://127.0.0.1:8080").redirectURL("/a/b.c-d_e"),
      /^http:\/\/127\.0\.0\.1:8080\/a\/b\.c-d_e\?/,
    );
    assert.match(await cdn("http://cdn").redirectURL("/a b/100%"), /^http:\/\/cdn\/a%20b\/100%25\?/);
  });

  it("refuses a base URL with credentials, a query or a fragment, without echoing the credentials", () => {
    assert.throws(
      () => cdn("https://user:hunter2@cdn.example/"),
      (err: Error) => !err.message.includes("hunter2"),
    );
    assert.throws(() => cdn("https://cdn.example/?x=1"));
    assert.throws(() => cdn("https://cdn.example/#f"));
    assert.throws(() => cdn("https://cdn.example/", 0), RangeError);
  });
});

describe("PresignedRedirect URLs", () => {
  it("returns what presign makes of the path and the configured lifetime", async () => {
    const asked: [string, number][] = [];
    const presign = async (path: string, seconds: number) => {
      asked.push([path, seconds]);
      return `https://bucket.example${path}?X-Amz-Expires=${seconds}&X-Amz-Signature=sig`;
    };
    const d = new PresignedRedirect(new MemoryDriver(), presign, 900);
    assert.equal(
      await d.redirectURL("/blobs/x/data"),
      "https://bucket.example/blobs/x/data?X-Amz-Expires=900&X-Amz-Signature=sig",
    );
    assert.deepEqual(asked, [["/blobs/x/data", 900]]);
    assert.throws(() => new PresignedRedirect(new MemoryDriver(), presign, -1), RangeError);
  });
});
