import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig, parseConfig } from "./load.js";

const registries = (c: ReturnType<typeof parseConfig>) => c.upstreams.map((u) => `${u.registry}=${u.url}`);

describe("upstreams configuration", () => {
  it("has docker.io only by default, with its token realm and the legacy fields filled", () => {
    const c = parseConfig({});
    assert.deepEqual(registries(c), ["docker.io=https://registry-1.docker.io"]);
    const [hub] = c.upstreams;
    assert.equal(c.upstream, hub);
    assert.deepEqual(hub?.tokenRealms, ["https://registry-1.docker.io", "https://auth.docker.io"]);
    assert.deepEqual(hub?.credentials, []);
    assert.equal(hub?.tagTtl, 300_000);
    assert.deepEqual(hub?.breaker, { failures: 0, openForMs: 30_000 });
    assert.equal(hub?.allowPrivateRedirects, false);
  });

  it("takes a list: well-known names alone, full entries, per-upstream settings", () => {
    const c = parseConfig({
      cache: { tagTtl: "1m" },
      upstreams: [
        "ghcr.io",
        { registry: "nvcr.io", credentials: [{ username: "$oauthtoken", password: "k1" }] },
        {
          registry: "registry.internal:5000",
          url: "http://10.0.0.5:5000",
          tagTtl: "10s",
          allow: ["team/**"],
          deny: ["team/secret"],
          hosts: ["internal.mirror.example"],
          tokenRealms: ["https://auth.internal"],
          allowPrivateRedirects: true,
          breaker: { failures: 3, openFor: "1m" },
          retries: 0,
        },
      ],
    });
    assert.deepEqual(registries(c), [
      "docker.io=https://registry-1.docker.io",
      "ghcr.io=https://ghcr.io",
      "nvcr.io=https://nvcr.io",
      "registry.internal:5000=http://10.0.0.5:5000",
    ]);
    const [, ghcr, nvcr, internal] = c.upstreams;
    assert.equal(ghcr?.tagTtl, 60_000);
    assert.deepEqual(nvcr?.tokenRealms, ["https://nvcr.io", "https://authn.nvidia.com"]);
    assert.equal(nvcr?.username, "$oauthtoken");
    assert.equal(nvcr?.password, "k1");
    assert.equal(internal?.tagTtl, 10_000);
    assert.deepEqual(internal?.tokenRealms, ["http://10.0.0.5:5000", "https://auth.internal"]);
    assert.deepEqual(internal?.breaker, { failures: 3, openForMs: 60_000 });
    assert.equal(internal?.retries, 0);
    assert.deepEqual(internal?.hosts, ["internal.mirror.example"]);
  });

  it("lays the legacy upstream block over the docker.io entry, key by key", () => {
    const c = parseConfig({
      upstream: { url: "http://127.0.0.1:1", username: "u", password: "p" },
      upstreams: [{ registry: "docker.io", url: "http://127.0.0.1:2", retries: 7, tagTtl: "1s" }],
    });
    const hub = c.upstreams[0];
    assert.equal(c.upstreams.length, 1);
    assert.equal(hub?.url, "http://127.0.0.1:1");
    assert.equal(hub?.retries, 7);
    assert.equal(hub?.tagTtl, 1000);
    assert.deepEqual(hub?.credentials, [{ username: "u", password: "p" }]);
    // Not Docker Hub's URL: auth.docker.io is no longer implied.
    assert.deepEqual(hub?.tokenRealms, ["http://127.0.0.1:1"]);
  });

  it("names the key of a bad value", () => {
    const bad: [unknown, RegExp][] = [
      [{ upstreams: ["example.com"] }, /upstreams\.0\.url: required: example\.com is not a well-known/],
      [{ upstreams: ["Ghcr.io"] }, /upstreams\.0\.registry: expected a lowercase registry host/],
      [{ upstreams: ["ghcr.io", "ghcr.io"] }, /upstreams\.1\.registry: ghcr\.io is listed twice/],
      [{ upstreams: [{ registry: "ghcr.io", deny: ["Bad"] }] }, /upstreams\.0\.deny\.0: expected lowercase/],
      [{ upstreams: [{ registry: "ghcr.io", hosts: ["h.example:80"] }] }, /upstreams\.0\.hosts\.0: expected/],
      [
        { upstream: { hosts: ["m.example"] }, upstreams: [{ registry: "quay.io", hosts: ["m.example"] }] },
        /upstreams\.0\.hosts\.0: m\.example already routes to docker\.io/,
      ],
      [
        { upstreams: [{ registry: "gcr.io", tokenRealms: ["https://a/token"] }] },
        /tokenRealms\.0: expected an origin/,
      ],
      [{ upstreams: [{ registry: "gcr.io", breaker: { failures: -1 } }] }, /upstreams\.0\.breaker\.failures/],
      [{ upstreams: [{ registry: "gcr.io", colour: 1 }] }, /upstreams\.0\.colour: unknown key/],
      [
        { upstream: { username: "u", credentials: [{ username: "a", password: "b" }] } },
        /upstream\.username: use credentials or username\/password, not both/,
      ],
      [{ upstreams: [{ registry: "quay.io", password: "p" }] }, /upstreams\.0\.password: needs a username/],
      [{ upstreams: [{ registry: "quay.io", allowPrivateRedirects: "yes" }] }, /allowPrivateRedirects/],
    ];
    for (const [input, error] of bad) assert.throws(() => parseConfig(input), error, JSON.stringify(input));
  });

  it("adds upstreams from --upstream-for and HUBMIRROR_UPSTREAM_FOR; flags win, --upstream sets docker.io", () => {
    const c = loadConfig(
      { upstreamFor: ["quay.io", "ghcr.io=http://127.0.0.1:9", "docker.io=http://127.0.0.1:8"] },
      { HUBMIRROR_UPSTREAM_FOR: "gcr.io" },
    );
    assert.deepEqual(registries(c), [
      "docker.io=http://127.0.0.1:8",
      "quay.io=https://quay.io",
      "ghcr.io=http://127.0.0.1:9",
    ]);
    const env = loadConfig({ upstream: "http://127.0.0.1:7" }, { HUBMIRROR_UPSTREAM_FOR: "gcr.io, nvcr.io" });
    assert.deepEqual(registries(env), [
      "docker.io=http://127.0.0.1:7",
      "gcr.io=https://gcr.io",
      "nvcr.io=https://nvcr.io",
    ]);
    assert.throws(
      () => loadConfig({ upstreamFor: ["=http://x"] }, {}),
      /--upstream-for =http:\/\/x: expected/,
    );
    assert.throws(() => loadConfig({ upstreamFor: ["example.com"] }, {}), /upstreams\.0\.url: required/);
  });
});
