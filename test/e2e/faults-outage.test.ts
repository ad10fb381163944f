// Upstream outages with real parts, once every client has pulled every image through hubmirror: the upstream
// registry killed or frozen (SIGSTOP), the token server answering 429, the registry answering 429 (a fault proxy
// between hubmirror and the registry, Docker Hub's TOOMANYREQUESTS body). Cached tags must still pull with every
// client; an uncached tag must fail with a clear 429. tagTtl 0 makes every tag request revalidate upstream, so
// every pull meets the fault; tokens live 2 s (hubmirror keeps them 1 s), so token requests do too.
//   bash test/netns-run.sh node --import tsx --test test/e2e/faults-outage.test.ts
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { TestImage } from "../fixtures/images.js";
import { MODES, pullThrough } from "./pull-modes.js";
import { useStack } from "./stack.js";

const STALE = { kind: "manifest", result: "stale" };
const CACHE = "hubmirror_cache_requests_total";
const STALE_AFTER_MS = 1000;

/** busybox under a repository no client pulls before the 429 tests. */
let uncached: TestImage;

const stack = useStack({
  hub: { expiresIn: 2 },
  prepare: async (hub) => {
    uncached = { ...hub.catalogue.busybox, repo: "library/uncached" };
    await hub.push(uncached);
  },
  faultProxy: true,
  mirror: { cache: { tagTtl: 0, staleAfter: STALE_AFTER_MS } },
});

/** Every client pulls every image (or `images`) through hubmirror; resolves with the number of pulls. */
async function pullAll(images = stack.hub.images): Promise<number> {
  for (const name of MODES)
    for (const img of images) await pullThrough(stack.modes[name], img, stack.mirror.process);
  return MODES.length * images.length;
}

/** Runs `pulls` and asserts that hubmirror answered at least one stale tag per pull. */
async function servedStale(pulls: () => Promise<number>): Promise<void> {
  const stale = await stack.mirror.process.metric(CACHE, STALE);
  const n = await pulls();
  assert.ok((await stack.mirror.process.metric(CACHE, STALE)) - stale >= n, "every pull got a stale tag");
}

/** hubmirror's own answer for the uncached tag: 429 TOOMANYREQUESTS with a Retry-After; resolves with that. */
async function assertMirror429(): Promise<string> {
  const url = `${stack.mirror.process.url}/v2/${uncached.repo}/manifests/latest`;
  const head = await fetch(url, { method: "HEAD" });
  assert.equal(head.status, 429);
  const res = await fetch(url);
  assert.equal(res.status, 429);
  const body = (await res.json()) as { errors: { code: string }[] };
  assert.equal(body.errors[0]?.code, "TOOMANYREQUESTS");
  const retryAfter = res.headers.get("retry-after");
  assert.ok(retryAfter !== null, "429 with a Retry-After");
  return retryAfter;
}

/** dockerd and ctr fail at once on the mirror's 429, naming it (dockerd's error includes its mirror attempt). */
async function assertDaemonsFail429(): Promise<void> {
  await assert.rejects(stack.clients.dockerd.pull("uncached"), /toomanyrequests/);
  const ref = `docker.io/${uncached.repo}:latest`;
  await assert.rejects(stack.clients.containerd.pullViaHostsDir(ref), /429 Too Many Requests/);
  const direct = `127.0.0.1:${stack.mirror.process.port}/${uncached.repo}:latest`;
  await assert.rejects(stack.clients.containerd.pullPlainHttp(direct), /429 Too Many Requests/);
}

describe("upstream outages: cached images still pull, uncached ones fail clearly", {
  timeout: 180_000,
}, () => {
  test("warm-up: every client pulls every image; a tag is revalidated with HEAD, never GET twice", async () => {
    await pullAll();
    const log = await stack.hub.registry.accessLog();
    const manifestGets = log.filter(
      (r) => r.method === "GET" && /\/manifests\//.test(r.path) && r.status === 200,
    );
    assert.equal(new Set(manifestGets.map((r) => r.path)).size, manifestGets.length, "a manifest GET twice");
    assert.ok(
      log.some((r) => r.method === "HEAD" && r.path.endsWith("/manifests/latest") && r.status === 200),
    );
  });

  test("upstream registry killed: every client pulls every cached image (stale tags)", async () => {
    await stack.hub.registry.kill("SIGKILL");
    try {
      await servedStale(() => pullAll());
    } finally {
      await stack.hub.registry.restart();
    }
  });

  test("upstream registry frozen (SIGSTOP): cached tags are served after staleAfter", async () => {
    await stack.hub.registry.kill("SIGSTOP");
    try {
      const started = Date.now();
      await servedStale(() => pullAll([stack.hub.catalogue.busybox]));
      assert.ok(Date.now() - started >= STALE_AFTER_MS, "waited for staleAfter");
    } finally {
      await stack.hub.registry.kill("SIGCONT");
    }
  });

  test("token server answers 429: cached tags served with every client; uncached fails with 429", async () => {
    stack.hub.tokens.setFault({ status: 429 });
    try {
      await sleep(1200); // hubmirror's tokens (1 s) have expired
      const refused = stack.hub.tokens.requests.length;
      await servedStale(() => pullAll());
      assert.ok(
        stack.hub.tokens.requests.slice(refused).some((r) => r.status === 429),
        "token requests met the 429",
      );
      await assertMirror429();
      // podman and skopeo (containers/image) honour the mirror's Retry-After (60 s here) and back off for minutes.
      await assertDaemonsFail429();
    } finally {
      stack.hub.tokens.setFault(null);
    }
  });

  test("registry answers 429 to everything: cached tags served; uncached fails with 429 in every client", async () => {
    stack.proxy.setFault({ path: /^\/v2\/./, fault: { status: 429, headers: { "retry-after": "0" } } });
    try {
      await servedStale(() => pullAll());
      // hubmirror passes the upstream's Retry-After on; 0 lets containers/image give up at once.
      assert.equal(await assertMirror429(), "0");
      await assertDaemonsFail429();
      const qualified = `docker.io/${uncached.repo}:latest`;
      await assert.rejects(stack.clients.podman.pull(qualified), /toomanyrequests/);
      await assert.rejects(
        stack.clients.skopeo.copyViaMirror(qualified, `${stack.clients.skopeo.dir}/u`),
        /toomanyrequests/,
      );
      const direct = `127.0.0.1:${stack.mirror.process.port}/${uncached.repo}:latest`;
      await assert.rejects(stack.clients.skopeo.inspectDirect(direct), /toomanyrequests/);
    } finally {
      stack.proxy.setFault(null);
    }
  });

  test("Docker Hub's limit (429 on manifest GETs only): cached tags revalidate by HEAD, uncached fail", async () => {
    stack.proxy.setFault({ path: /\/manifests\//, method: "GET", fault: { status: 429 } });
    try {
      const faulted = stack.proxy.faulted;
      const stale = await stack.mirror.process.metric(CACHE, STALE);
      for (const img of stack.hub.images)
        await pullThrough(stack.modes["skopeo --registries-conf"], img, stack.mirror.process);
      assert.equal(await stack.mirror.process.metric(CACHE, STALE), stale, "revalidated, not stale");
      assert.equal(stack.proxy.faulted, faulted, "no manifest GET for a tag that did not move");
      await assertMirror429();
      assert.ok(stack.proxy.faulted > faulted);
    } finally {
      stack.proxy.setFault(null);
    }
  });

  test("after the faults the uncached image pulls with every client", async () => {
    await pullAll([uncached]);
  });
});
