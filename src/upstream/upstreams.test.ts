import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../config/load.js";
import { compilePatterns, patternError, repoPolicy } from "../reference/repo-pattern.js";
import type { Upstream } from "./upstream.js";
import { splitRegistryPrefix, UpstreamSet } from "./upstreams.js";

describe("repository patterns", () => {
  it("matches * within a component and ** across them; deny wins; an empty allow admits all", () => {
    const re = compilePatterns(["library/*", "myorg/**", "a.b/c"]);
    for (const yes of ["library/alpine", "myorg/x", "myorg/x/y", "a.b/c"]) assert.ok(re?.test(yes), yes);
    for (const no of ["library/a/b", "myorg", "axb/c", "other/library/alpine"]) assert.ok(!re?.test(no), no);
    const policy = repoPolicy(["team/**"], ["team/secret*"]);
    assert.deepEqual(["team/app", "team/secret", "team/secrets", "other/app"].map(policy), [
      true,
      false,
      false,
      false,
    ]);
    assert.equal(repoPolicy([], ["**"])("x"), false);
    assert.equal(repoPolicy([], [])("x"), true);
    assert.match(patternError("Team/*") ?? "", /lowercase/);
    assert.match(patternError("a/***") ?? "", /\*\*\*/);
  });
});

describe("upstream routing", () => {
  const c = parseConfig({
    upstreams: [
      "ghcr.io",
      { registry: "localhost:5001", url: "http://127.0.0.1:5001", hosts: ["ghcr.mirror.example"] },
    ],
  });
  const set = new UpstreamSet(c.upstreams.map((settings) => ({ settings, upstream: {} as Upstream })));
  const route = (ns: string | null, host: string | undefined, name: string) => {
    const { key } = set.resolve(ns, host, name);
    return `${key.registry} ${key.repo}`;
  };
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return (err as { code: string }).code;
    }
    return "none";
  };

  it("splits a registry prefix by docker's rule", () => {
    assert.deepEqual(splitRegistryPrefix("ghcr.io/owner/app"), ["ghcr.io", "owner/app"]);
    assert.deepEqual(splitRegistryPrefix("localhost/x"), ["localhost", "x"]);
    assert.deepEqual(splitRegistryPrefix("host:5000/x"), ["host:5000", "x"]);
    assert.equal(splitRegistryPrefix("owner/app"), undefined);
    assert.equal(splitRegistryPrefix("ghcr.io"), undefined, "a single component is a name");
  });

  it("decides ns, then a configured Host, then a prefix, then the default", () => {
    assert.equal(route("ghcr.io", undefined, "owner/app"), "ghcr.io owner/app");
    assert.equal(route("ghcr.io", undefined, "ghcr.io/owner/app"), "ghcr.io owner/app");
    assert.equal(route("docker.io", "ghcr.mirror.example", "alpine"), "docker.io library/alpine");
    assert.equal(route(null, "ghcr.mirror.example:443", "my.org/app"), "localhost:5001 my.org/app");
    assert.equal(route(null, "mirror.example", "ghcr.io/owner/app"), "ghcr.io owner/app");
    assert.equal(route(null, undefined, "docker.io/alpine"), "docker.io library/alpine");
    assert.equal(route(null, undefined, "localhost:5001/x"), "localhost:5001 x");
    assert.equal(route(null, "unknown.example", "alpine"), "docker.io library/alpine");
    assert.equal(set.registryOf(null, "GHCR.mirror.example"), "localhost:5001");
  });

  it("refuses what is not configured before looking at the name", () => {
    assert.equal(
      code(() => set.resolve("quay.io", undefined, "NOT..VALID")),
      "NAME_UNKNOWN",
    );
    assert.equal(
      code(() => set.resolve(null, undefined, "quay.io/x/y")),
      "NAME_UNKNOWN",
    );
    assert.equal(
      code(() => set.registryOf("quay.io", undefined)),
      "NAME_UNKNOWN",
    );
    assert.equal(
      code(() => set.resolve(null, undefined, "ghcr.io/NOT..VALID")),
      "NAME_INVALID",
    );
  });
});
