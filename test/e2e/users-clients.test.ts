// Users mode end to end: hubmirror (a child process, `auth.mode: users`) in front of the token-auth Distribution
// hub, accounts made with the `hubmirror users` command line, and real clients pulling as those users: dockerd
// through a personal address `<pull token>.mirror.test:<port>` as its registry-mirrors (the name resolves through a
// test hosts file bind-mounted over /etc/hosts, in the suite's private mount namespace), containerd with `ctr
// --user` and with a hosts.toml Authorization header, podman after `podman login` to the mirror, skopeo with
// --creds. Anonymous pulls get the 401 challenge; a wrong token is refused, a disabled user at once, a user over
// quota with 429.
//   bash test/netns-run.sh node --import tsx --test test/e2e/users-clients.test.ts
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { request } from "undici";
import { Containerd, writeHostsToml } from "../clients/containerd.js";
import { Dockerd } from "../clients/dockerd.js";
import { resolveToLoopback } from "../clients/netns.js";
import { Podman } from "../clients/podman.js";
import { Skopeo } from "../clients/skopeo.js";
import type { TestImage } from "../fixtures/images.js";
import { eventually } from "../helpers.js";
import { startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";
import { type Hub, startHub } from "./stack.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DOMAIN = "mirror.test";
const SERVED = "hubmirror_http_requests_total";

interface Account {
  name: string;
  token: string;
  password: string;
}

let hub: Hub;
let mirror: TempMirrorProcess;
let dockerd: Dockerd;
let containerd: Containerd;
let podman: Podman;
let skopeo: Skopeo;
let alice: Account;
let bob: Account;
const started: { stop(): Promise<void> }[] = [];

/** `hubmirror users …` against the running mirror; resolves with exit code and output. */
async function users(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", "users", ...args, "--server", mirror.process.url],
      { cwd: REPO_ROOT },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function addAccount(name: string, ...flags: string[]): Promise<Account> {
  const res = await users("add", name, "--json", ...flags);
  assert.equal(res.code, 0, res.stderr);
  const body = JSON.parse(res.stdout) as { password: string; token: { secret: string } };
  return { name, token: body.token.secret, password: body.password };
}

const port = () => mirror.process.port;
const personal = (a: Account) => `${a.token}.${DOMAIN}:${port()}`;
const direct = (img: TestImage) => `127.0.0.1:${port()}/${img.repo}:latest`;
const served = (status: string) => mirror.process.metric(SERVED, { status });

/** A plain request to the mirror (undici: it sends the Host header it is given). */
async function ask(path: string, headers: Record<string, string> = {}, method: "GET" | "HEAD" = "GET") {
  const res = await request(`${mirror.process.url}${path}`, { method, headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

before(
  async () => {
    hub = await startHub();
    started.push(hub);
    mirror = await startMirrorProcess(hub.registry.url, {
      auth: { mode: "users", domain: DOMAIN, signup: "closed" },
    });
    started.push(mirror);
    await addAccount("root", "--admin");
    alice = await addAccount("alice");
    bob = await addAccount("bob");
    started.push({ stop: await resolveToLoopback([alice, bob].map((a) => `${a.token}.${DOMAIN}`)) });
    dockerd = await Dockerd.start({
      mirrorUrl: `http://${personal(alice)}`,
      insecureRegistries: [personal(alice)],
    });
    started.push(dockerd);
    containerd = await Containerd.start({ mirrorUrl: mirror.process.url });
    started.push(containerd);
    podman = await Podman.create({ mirrorUrl: mirror.process.url });
    started.push(podman);
    skopeo = await Skopeo.create({ mirrorUrl: `http://${personal(bob)}` });
    started.push(skopeo);
  },
  { timeout: 120_000 },
);
after(async () => {
  for (const part of started.reverse()) await part.stop();
});

describe("users mode with real clients", { timeout: 180_000 }, () => {
  test("the command line lists the accounts it made", async () => {
    const list = await users("list");
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^root\s+admin\s/m);
    assert.match(list.stdout, /^alice\s+-\s+none\s+none/m);
    const again = await users("add", "alice");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /the name alice is taken/);
  });

  test("an anonymous pull gets the 401 challenge naming the mirror's own token realm", async () => {
    const res = await ask("/v2/library/busybox/manifests/latest", {}, "HEAD");
    assert.equal(res.status, 401);
    assert.equal(
      res.headers["www-authenticate"],
      `Bearer realm="${mirror.process.url}/token",service="hubmirror",scope="repository:library/busybox:pull"`,
    );
    const before = await served("401");
    const refused = await skopeo
      .skopeo(["inspect", "--no-tags", "--tls-verify=false", `docker://${direct(hub.catalogue.oci)}`])
      .then(
        () => "pulled",
        (err: Error) => err.message,
      );
    assert.match(refused, /unauthorized|authentication required/i);
    assert.ok((await served("401")) > before);
  });

  test("dockerd pulls through its personal address and runs the image", async () => {
    const busybox = hub.catalogue.busybox;
    const digest = await dockerd.pull("busybox");
    assert.equal(digest, busybox.manifest.digest);
    assert.equal(await dockerd.run("busybox", ["echo", "ok"]), "ok");
    await dockerd.removeImage("busybox");
    const layers = busybox.blobs.reduce((n, b) => n + b.size, 0);
    const today = async () =>
      (
        JSON.parse((await ask("/admin/users/stats?name=alice")).text) as {
          today: { pulls: number; bytes: number };
        }
      ).today;
    // The last blob's bytes are counted once its last write is done, which dockerd can see the body before.
    await eventually("alice's bytes counted", async () => (await today()).bytes >= layers);
    assert.ok((await today()).pulls >= 1, "the pull was counted as alice's");
  });

  test("`docker login` to the mirror, then dockerd pulls from it by name with a bearer token", async () => {
    const img = hub.catalogue.oci;
    const registry = `127.0.0.1:${port()}`;
    const refused = await dockerd.pull(direct(img)).then(
      () => "pulled",
      (e: Error) => e.message,
    );
    assert.match(refused, /unauthorized|authentication required|no basic auth credentials/i);
    const login = await dockerd.docker(["login", "-u", "alice", "-p", alice.token, registry]);
    assert.match(login, /Login Succeeded/);
    assert.equal(await dockerd.pull(direct(img)), img.manifest.digest);
    await dockerd.removeImage(direct(img));
    await dockerd.docker(["logout", registry]);
  });

  test("containerd pulls with `ctr --user` (bearer token from /token) and with a hosts.toml header", async () => {
    const img = hub.catalogue["docker-v2"];
    const ref = `docker.io/${img.repo}:latest`;
    const tokens = await mirror.process.metric(SERVED, { route: "token", status: "200" });
    assert.equal(
      await containerd.pullWith(ref, containerd.hostsDir, `alice:${alice.token}`),
      img.manifest.digest,
    );
    assert.ok((await mirror.process.metric(SERVED, { route: "token", status: "200" })) > tokens);
    await containerd.removeImage(ref);
    const withHeader = join(containerd.dir, "hosts-header.d");
    const authorization = `Basic ${Buffer.from(`alice:${alice.token}`).toString("base64")}`;
    await writeHostsToml(withHeader, "docker.io", mirror.process.url, "https://registry-1.docker.io", {
      Authorization: authorization,
    });
    assert.equal(await containerd.pullWith(ref, withHeader), img.manifest.digest);
    await containerd.removeImage(ref);
    const anonymous = await containerd.pullWith(ref, containerd.hostsDir).then(
      () => "pulled",
      (e: Error) => e.message,
    );
    assert.match(anonymous, /401|unauthorized/i);
  });

  test("podman logs in to the mirror, then pulls through its registries.conf mirror", async () => {
    const img = hub.catalogue["oci-index"];
    const ref = `docker.io/${img.repo}:latest`;
    const refused = await podman.pull(ref).then(
      () => "pulled",
      (e: Error) => e.message,
    );
    assert.match(refused, /unauthorized|authentication required/i, "no login, no pull");
    const wrong = await podman
      .podman(["login", "--tls-verify=false", "-u", "alice", "-p", bob.token, `127.0.0.1:${port()}`])
      .then(
        () => "logged in",
        (e: Error) => e.message,
      );
    assert.match(wrong, /invalid username\/password/i);
    const login = await podman.podman([
      "login",
      "--tls-verify=false",
      "-u",
      "alice",
      "-p",
      alice.token,
      `127.0.0.1:${port()}`,
    ]);
    assert.match(login, /Login Succeeded/);
    assert.equal(await podman.pull(ref), img.manifest.digest);
    await podman.removeImage(ref);
  });

  test("skopeo pulls with --creds, and through a personal address as its mirror", async () => {
    const img = hub.catalogue.oci;
    const inspected = JSON.parse(
      await skopeo.skopeo([
        "inspect",
        "--no-tags",
        "--tls-verify=false",
        "--creds",
        `bob:${bob.token}`,
        `docker://${direct(img)}`,
      ]),
    ) as { Digest: string };
    assert.equal(inspected.Digest, img.manifest.digest);
    const copy = await skopeo.copyViaMirror(`docker.io/${img.repo}:latest`, join(skopeo.dir, "oci-copy"));
    assert.equal(copy, img.manifest.digest);
    const wrong = await skopeo
      .skopeo([
        "inspect",
        "--no-tags",
        "--tls-verify=false",
        "--creds",
        `bob:${"a".repeat(32)}`,
        `docker://${direct(img)}`,
      ])
      .then(
        () => "pulled",
        (e: Error) => e.message,
      );
    assert.match(wrong, /unauthorized|wrong user name or pull token/i);
  });

  test("a disabled user is refused at once by every client; enabled again, pulls again", async () => {
    const img = hub.catalogue["docker-list"];
    const ref = `docker.io/${img.repo}:latest`;
    const disable = await users("disable", "alice");
    assert.equal(disable.code, 0, disable.stderr);
    assert.match(disable.stdout, /disabled alice/);
    const denied = await served("403");
    const outcomes = [
      await dockerd.pull(img.repo.replace("library/", "")).then(
        () => "pulled",
        (e: Error) => e.message,
      ),
      await containerd.pullWith(ref, containerd.hostsDir, `alice:${alice.token}`).then(
        () => "pulled",
        (e: Error) => e.message,
      ),
      await podman.pull(ref).then(
        () => "pulled",
        (e: Error) => e.message,
      ),
    ];
    for (const o of outcomes) assert.notEqual(o, "pulled");
    assert.ok(
      (await served("403")) >= denied + 3,
      "each client was refused by the mirror (403), not elsewhere",
    );
    assert.equal((await users("enable", "alice")).code, 0);
    assert.equal(await podman.pull(ref), img.manifest.digest);
    await podman.removeImage(ref);
  });

  test("a user over quota gets 429 TOOMANYREQUESTS", async () => {
    const set = await users("set-quota", "bob", "--requests-per-minute", "2");
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^bob\s+-\s+2 \(own\)/m);
    const limited = await served("429");
    // ctr, not skopeo: containers/image waits out a 429's Retry-After (up to 60 s, 5 times) and then succeeds.
    const img = hub.catalogue["docker-v2"];
    const ref = `docker.io/${img.repo}:latest`;
    const outcome = await containerd.pullWith(ref, containerd.hostsDir, `bob:${bob.token}`).then(
      () => "pulled",
      (e: Error) => e.message,
    );
    assert.match(outcome, /429|too many requests/i);
    assert.ok((await served("429")) > limited);
    const res = await ask("/v2/", {
      authorization: `Basic ${Buffer.from(`bob:${bob.token}`).toString("base64")}`,
    });
    assert.equal(res.status, 429);
    assert.match(res.text, /TOOMANYREQUESTS/);
    assert.ok(Number(res.headers["retry-after"]) >= 1);
    assert.equal((await users("set-quota", "bob", "--requests-per-minute", "default")).code, 0);
  });

  test("reset-token revokes the old personal address and prints a new one", async () => {
    const res = await users("reset-token", "bob");
    assert.equal(res.code, 0, res.stderr);
    const fresh = /pull token\s+([a-z2-7]{32})/.exec(res.stdout)?.[1];
    assert.ok(fresh && fresh !== bob.token);
    assert.match(
      res.stdout,
      new RegExp(`personal address\\s+http://${fresh}\\.${DOMAIN.replace(".", "\\.")}:${port()}`),
    );
    assert.equal((await ask("/v2/", { host: personal(bob) })).status, 401);
    const now = await ask("/v2/", { host: `${fresh}.${DOMAIN}:${port()}` });
    assert.equal(now.status, 200, now.text);
  });
});
