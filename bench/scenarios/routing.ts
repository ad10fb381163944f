// (6) The per-request cost of routing (issue 9): manifest by tag within the TTL, measured with wrk as the manifests
// scenario does, on the run's hubmirror (docker.io only) and on a second hubmirror of its own — same build, same
// upstream, own data directory — configured with 6 upstreams: docker.io as the first, plus 5 registries on
// 127.0.0.1 ports nothing listens on (never dialled: every request here routes to docker.io), each with `hosts`
// and allow/deny patterns, so that the Host lookup and the policy compilation have something to chew on. Three
// ways of naming docker.io: the plain path (what dockerd sends), a path prefix `/v2/docker.io/<repo>/…` (podman,
// CRI-O) and `?ns=docker.io` (containerd). Both mirrors take each; the rows are 6 upstreams vs 1 upstream.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeBlobImage, type TestImage } from "../../test/fixtures/images.js";
import { WARMUP_BLOB, warmUp } from "../env.js";
import { getOk } from "../http.js";
import { startHubmirror } from "../hubmirror.js";
import { median, procStats, quiesce } from "../measure.js";
import type { Columns, Row } from "../report.js";
import type { Ctx, ScenarioResult } from "./common.js";
import { MANIFEST_ACCEPT, type ManifestSample, wrkManifests } from "./manifests.js";

const COLUMNS: Columns = { a: "6 upstreams", b: "1 upstream", ratio: "6/1" };

/**
 * The 6-upstream configuration: docker.io at the bench's upstream (as `--upstream` gives the run's hubmirror),
 * then 5 more, each on a 127.0.0.1 port that refuses connections (nothing is dialled at start-up or here).
 */
export function sixUpstreams(upstreamUrl: string): Record<string, unknown> {
  return {
    upstreams: [
      { registry: "docker.io", url: upstreamUrl },
      {
        registry: "ghcr.io",
        url: "http://127.0.0.1:9",
        hosts: ["ghcr.mirror.example", "ghcr.mirror.internal"],
        allow: ["myorg/**", "actions/*"],
        deny: ["myorg/secret-*", "myorg/**/private"],
      },
      {
        registry: "quay.io",
        url: "http://127.0.0.1:9",
        hosts: ["quay.mirror.example", "quay.mirror.internal"],
        allow: ["prometheus/*", "coreos/**"],
        deny: ["coreos/*-dev"],
      },
      {
        registry: "registry.k8s.io",
        url: "http://127.0.0.1:9",
        hosts: ["k8s.mirror.example", "k8s.mirror.internal"],
        allow: ["*", "kube-*/**"],
        deny: ["**/*-rc*"],
      },
      {
        registry: "nvcr.io",
        url: "http://127.0.0.1:9",
        hosts: ["nvcr.mirror.example", "nvcr.mirror.internal"],
        allow: ["nvidia/**"],
        deny: ["nvidia/internal/**", "nvidia/*-beta"],
      },
      {
        registry: "registry.internal:5000",
        url: "http://127.0.0.1:9",
        hosts: ["internal.mirror.example", "registry.mirror.internal"],
        allow: ["team-*/**", "base/*"],
        deny: ["team-*/scratch/**"],
      },
    ],
  };
}

interface Target {
  name: "6 upstreams" | "1 upstream";
  url: string;
  pid: number;
}

export async function routing(ctx: Ctx): Promise<ScenarioResult> {
  const { env, opts, log } = ctx;
  const dir = join(env.work, "hub-routing");
  const data = join(dir, "data");
  const configPath = join(dir, "config.yml");
  const config = sixUpstreams(env.upstream.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`); // JSON is YAML
  const six = await startHubmirror({
    ...env.hubmirrorBuild,
    upstream: env.upstream.url,
    data,
    args: ["--config", configPath],
  });
  try {
    const one = env.mirrors[0];
    const targets: Target[] = [
      { name: "6 upstreams", url: six.url, pid: six.pid },
      { name: "1 upstream", url: one.url, pid: one.pid },
    ];
    const pids = [...env.mirrors.map((m) => m.pid), six.pid];
    const sctx: Ctx = { ...ctx, quiet: async () => void (await quiesce(pids, opts.quietWindowMs)) };
    const cpuBefore = { six: procStats(six.pid).cpuS, one: procStats(one.pid).cpuS };
    // As the run's mirrors: code paths compiled, upstream connected, before the first measured request.
    await warmUp({ name: "hubmirror", url: six.url, pid: six.pid }, await makeBlobImage(WARMUP_BLOB));

    const img = env.herd[0] as TestImage;
    const variants = {
      path: { path: `/v2/${img.repo}/manifests/${img.tag}`, what: "plain path" },
      prefix: { path: `/v2/docker.io/${img.repo}/manifests/${img.tag}`, what: "path prefix /v2/docker.io/…" },
      ns: { path: `/v2/${img.repo}/manifests/${img.tag}?ns=docker.io`, what: "?ns=docker.io" },
    };
    // Unmeasured: each way of asking answers 200 on both, and the tag is fresh within the TTL before wrk starts.
    for (const t of targets) {
      for (const v of Object.values(variants))
        await getOk(t.url + v.path, { headers: { Accept: MANIFEST_ACCEPT } });
    }
    const samples = new Map<string, ManifestSample[]>();
    for (let round = 0; round < opts.rounds; round++) {
      for (const [i, [kind, v]] of Object.entries(variants).entries()) {
        // Alternates who goes first per variant and per round (A B, B A, …).
        for (const t of (round + i) % 2 === 0 ? targets : [...targets].reverse()) {
          const what = `routing: manifest by tag, ${v.what}, via hubmirror with ${t.name} (round ${round + 1})`;
          const s = await wrkManifests(sctx, what, t.url + v.path, "hubmirror");
          const key = `${kind}/${t.name}`;
          samples.set(key, [...(samples.get(key) ?? []), s]);
        }
      }
    }
    const cpu = {
      six: procStats(six.pid).cpuS - cpuBefore.six,
      one: procStats(one.pid).cpuS - cpuBefore.one,
    };

    const pair = (
      id: string,
      label: string,
      unit: string,
      better: Row["better"],
      f: (name: Target["name"]) => number,
    ): Row => ({
      id,
      label,
      unit,
      better,
      hubmirror: f("6 upstreams"),
      registry: f("1 upstream"),
      columns: COLUMNS,
    });
    const of = (kind: string, name: Target["name"]) => samples.get(`${kind}/${name}`) ?? [];
    const all = (name: Target["name"]) => Object.keys(variants).flatMap((k) => of(k, name));
    const conns = `${opts.wrkConnections} conns`;
    const rows: Row[] = [];
    for (const [kind, v] of Object.entries(variants)) {
      const what = `routing: manifest by tag (within TTL), ${v.what}, ${conns}`;
      rows.push(
        pair(`routing.${kind === "path" ? "tag" : kind}.rps`, what, "req/s", "higher", (n) =>
          median(of(kind, n).map((s) => s.rps)),
        ),
        pair(`routing.${kind === "path" ? "tag" : kind}.p99`, `${what}: p99`, "ms", "lower", (n) =>
          median(of(kind, n).map((s) => s.p99Ms)),
        ),
      );
    }
    rows.push(
      pair("routing.upstream", "routing: upstream requests, all runs", "count", "none", (n) =>
        all(n).reduce((sum, s) => sum + s.upstreamRequests, 0),
      ),
      pair("routing.errors", "routing: non-2xx + socket errors, all runs", "count", "none", (n) =>
        all(n).reduce((sum, s) => sum + s.non2xx + s.socketErrors, 0),
      ),
    );
    log(`routing: 6-upstream hubmirror config ${JSON.stringify(config)}`);
    return {
      rows,
      ownMirrors: {
        cpu: pair("cpu.routing", "  CPU during routing", "s", "lower", (n) =>
          n === "6 upstreams" ? cpu.six : cpu.one,
        ),
        rss: pair(
          "rss.routing",
          "  VmHWM after routing (1 upstream: over the whole run)",
          "MiB",
          "lower",
          (n) => procStats((n === "6 upstreams" ? six : one).pid).peakRssMiB,
        ),
      },
      details: {
        config,
        samples: Object.fromEntries(samples),
        cpuSeconds: { "6 upstreams": cpu.six, "1 upstream": cpu.one },
        hubmirrorWarnings: await six.warnings(),
      },
    };
  } finally {
    await six.stop();
  }
}
