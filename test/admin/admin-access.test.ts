// The admin API from another host, for real: inside the test network namespace (test/netns-run.sh, as root) a
// dummy interface (or a bridge) gets a private address, the mirror listens on 0.0.0.0, and requests to that address
// arrive from it, not from loopback. Without admin.token such a caller gets 403; with it, a missing or wrong token
// is 401 and the right one works, for the CLI too.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { pino } from "pino";
import { type App, startApp } from "../../src/app.js";
import { parseConfig } from "../../src/config/load.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { errorCode } from "../helpers.js";

const run = promisify(execFile);
const IFACE = "hmadm0";
const REMOTE = "10.203.0.1";
const TOKEN = "admin-token-for-the-test-0123";

async function ip(...args: string[]): Promise<void> {
  await run("ip", args);
}

async function start(hub: FakeHub, dirs: string[], token?: string): Promise<App> {
  const data = await mkdtemp(join(tmpdir(), "hubmirror-admin-"));
  dirs.push(data);
  const config = parseConfig({
    listen: "0.0.0.0:0",
    data,
    upstream: { url: hub.url },
    cache: { gc: { interval: 0 } },
    ...(token ? { admin: { token } } : {}),
  });
  return startApp(config, pino({ level: "silent" }));
}

const port = (app: App) => new URL(app.url).port;

async function call(host: string, app: App, path: string, method = "GET", authorization?: string) {
  const res = await fetch(`http://${host}:${port(app)}${path}`, {
    method,
    headers: { ...(authorization ? { authorization } : {}), "content-type": "application/json" },
    ...(method === "POST" ? { body: JSON.stringify({ dryRun: true }) } : {}),
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "src/cli.ts", ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("admin API from another host", () => {
  let hub: FakeHub;
  let open: App;
  let guarded: App;
  const dirs: string[] = [];
  before(async () => {
    // A dummy needs its kernel module, which some kernels lack; a bridge without ports serves as well: all we need
    // is a local, non-loopback address.
    await ip("link", "add", IFACE, "type", "dummy").catch(() => ip("link", "add", IFACE, "type", "bridge"));
    await ip("addr", "add", `${REMOTE}/32`, "dev", IFACE);
    await ip("link", "set", IFACE, "up");
    hub = await new FakeHub().start();
    open = await start(hub, dirs);
    guarded = await start(hub, dirs, TOKEN);
  });
  after(async () => {
    await open?.close();
    await guarded?.close();
    await hub?.stop();
    await ip("link", "del", IFACE).catch(() => {});
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("without admin.token: loopback is admitted, another host gets 403 and nothing runs", async () => {
    assert.equal((await call("127.0.0.1", open, "/admin/cache")).status, 200);
    const denied = await call(REMOTE, open, "/admin/cache");
    assert.equal(denied.status, 403);
    assert.equal(errorCode(denied.body), "DENIED");
    const gc = await call(REMOTE, open, "/admin/gc", "POST");
    assert.equal(gc.status, 403);
    assert.equal(await open.metrics.value("hubmirror_gc_runs_total"), 0, "the refused GC did not run");
    // The registry API itself stays open to other hosts.
    assert.equal((await call(REMOTE, open, "/v2/")).status, 200);
  });

  it("with admin.token: another host without it or with a wrong one gets 401, with it 200", async () => {
    const missing = await call(REMOTE, guarded, "/admin/cache");
    assert.equal(missing.status, 401);
    assert.equal(errorCode(missing.body), "UNAUTHORIZED");
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer /);
    assert.equal((await call(REMOTE, guarded, "/admin/cache", "GET", "Bearer not-the-token")).status, 401);
    assert.equal((await call(REMOTE, guarded, "/admin/cache", "GET", `Bearer ${TOKEN}`)).status, 200);
    assert.equal((await call("127.0.0.1", guarded, "/admin/cache")).status, 200, "loopback needs no token");
  });

  it("the CLI from another address: refused without the token, runs with it", async () => {
    const server = `http://${REMOTE}:${port(guarded)}`;
    const refused = await cli("gc", "--dry-run", "--server", server);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /answered 401: the admin API needs a valid admin token/);
    const wrong = await cli("gc", "--dry-run", "--server", server, "--token", "nope-nope-nope-nope");
    assert.equal(wrong.code, 1);
    const ok = await cli("gc", "--dry-run", "--server", server, "--token", TOKEN);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^gc \(dry run\): would free 0 items, 0\.0 MiB/);
    const denied = await cli("gc", "--server", `http://${REMOTE}:${port(open)}`);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /answered 403: the admin API answers loopback callers only/);
  });
});
