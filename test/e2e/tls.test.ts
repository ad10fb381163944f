// HTTPS with real clients: dockerd, containerd (ctr), podman and skopeo pull through hubmirror over TLS with only
// the test CA installed the way each documents (certs.d/HOST:PORT/ca.crt for dockerd, podman and skopeo, hosts.toml
// `ca` for containerd) and no insecure setting. The mirror runs as a child process; its certificate is swapped and
// SIGHUP sent while pulls run: they finish, later connections get the new certificate. A certificate from another
// CA is refused by every client: they really check.
// The mirror listens on 192.0.2.10, added to `lo`, by the name tls-mirror.test: dockerd takes 127.0.0.0/8 for an
// insecure registry and would skip the check there. /etc/hosts and the certs.d dirs are bind-mounted copies in the
// test's private mount namespace (test/netns-run.sh): the host's /etc is untouched.
//   bash test/netns-run.sh node --import tsx --test test/e2e/tls.test.ts
import assert from "node:assert/strict";
import { copyFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect } from "node:tls";
import { addLoopbackAddress, addToEtc, resolveToLoopback } from "../clients/netns.js";
import { removeTree, tempDir } from "../clients/proc.js";
import type { TestImage } from "../fixtures/images.js";
import { type IssuedCert, TestCa } from "../fixtures/test-ca.js";
import { eventually } from "../helpers.js";
import { MirrorProcess } from "../mirror-process.js";
import { type ModeName, type PullMode, pullModes, pullThrough } from "./pull-modes.js";
import { Clients, type Hub, startHub } from "./stack.js";

const MIRROR_IP = "192.0.2.10";
const MIRROR_NAME = "tls-mirror.test";
/** The pull modes that go through the mirror (the others address it by 127.0.0.1 over plain HTTP). */
const THROUGH_MIRROR: ModeName[] = [
  "dockerd registry-mirrors",
  "ctr --hosts-dir",
  "podman registries.conf",
  "skopeo --registries-conf",
];
const RELOADS = "hubmirror_tls_reloads_total";
const SERVED = "hubmirror_http_requests_total";

let dir: string;
let ca: TestCa;
let caPem: Buffer;
/** Another CA, which no client trusts. */
let rogueCa: TestCa;
let hub: Hub;
let mirror: MirrorProcess;
let modes: PullMode[];
const live = { cert: "", key: "" };
const started: { stop(): Promise<void> }[] = [];

const issue = (authority: TestCa, cn: string) =>
  authority.issue(cn, { names: [MIRROR_NAME], ips: [MIRROR_IP] });

/** Registry requests the mirror answered (/metrics, which the test reads, left out). */
async function registryRequests(): Promise<number> {
  let n = 0;
  for (const route of ["base", "manifests", "blobs"]) n += await mirror.metric(SERVED, { route });
  return n;
}

/** Puts `pair` where the mirror's --tls-cert/--tls-key point and sends SIGHUP; resolves once it has reloaded. */
async function swapTo(pair: IssuedCert): Promise<void> {
  const reloads = await mirror.metric(RELOADS, { outcome: "ok" });
  await copyFile(pair.cert, live.cert);
  await copyFile(pair.key, live.key);
  mirror.signal("SIGHUP");
  await eventually("the reload", async () => (await mirror.metric(RELOADS, { outcome: "ok" })) > reloads);
}

/** The serial of the certificate a new connection to the mirror gets, checked against the test CA and the name. */
function servedSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: MIRROR_IP, port: mirror.port, servername: MIRROR_NAME, ca: caPem }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.once("error", reject);
  });
}

before(
  async () => {
    dir = await tempDir("tls-e2e");
    started.push({ stop: () => removeTree(dir) });
    ca = await TestCa.create(dir);
    caPem = await readFile(ca.caFile);
    rogueCa = await TestCa.create(dir, "rogue CA");
    const first = await issue(ca, "hubmirror one");
    live.cert = join(dir, "live.crt");
    live.key = join(dir, "live.key");
    await copyFile(first.cert, live.cert);
    await copyFile(first.key, live.key);
    started.push({ stop: await addLoopbackAddress(MIRROR_IP) });
    started.push({ stop: await resolveToLoopback([MIRROR_NAME], MIRROR_IP) });
    hub = await startHub();
    started.push(hub);
    mirror = await MirrorProcess.start({
      upstream: hub.registry.url,
      data: join(dir, "data"),
      listen: `${MIRROR_IP}:0`,
      args: ["--tls-cert", live.cert, "--tls-key", live.key],
      // The test's own requests (/metrics) trust both CAs; the clients only the first.
      ca: [caPem, await readFile(rogueCa.caFile)],
    });
    started.push({ stop: () => mirror.stop() });
    // What a user installs: the CA, in the directory named after the mirror's HOST:PORT.
    const hostPort = `${MIRROR_NAME}:${mirror.port}`;
    const caFile = { [`certs.d/${hostPort}/ca.crt`]: caPem };
    started.push({ stop: await addToEtc("/etc/docker", caFile) });
    started.push({ stop: await addToEtc("/etc/containers", caFile) });
    const clients = await Clients.start(`https://${hostPort}`, { ca: ca.caFile });
    started.push(clients);
    const all = pullModes(clients, mirror);
    modes = THROUGH_MIRROR.map((name) => all[name]);
  },
  { timeout: 90_000 },
);
after(async () => {
  for (const part of [...started].reverse()) await part.stop();
});

describe("real clients pull over HTTPS with only the CA installed", { timeout: 240_000 }, () => {
  test("each client pulls through the mirror", async (t) => {
    assert.equal(mirror.url, `https://${MIRROR_IP}:${mirror.port}`);
    const img = hub.catalogue["docker-v2"];
    for (const mode of modes) {
      await pullThrough(mode, img, mirror);
      t.diagnostic(`${mode.name} × ${img.repo}: ${mode.expected(img)}`);
    }
  });

  test("certificate swapped and SIGHUP sent mid-run: pulls go on, new connections get the new one", async (t) => {
    const second = await issue(ca, "hubmirror two");
    const running: TestImage = hub.catalogue.oci;
    const before = await registryRequests();
    let done = 0;
    const pulls = Promise.all(
      modes.map(async (mode) => {
        assert.equal(await mode.pull(running), mode.expected(running), mode.name);
        done++;
        await mode.forget(running);
      }),
    );
    // Once the mirror is answering the pulls, not before.
    await eventually("the pulls to start", async () => (await registryRequests()) > before, 30_000);
    await swapTo(second);
    t.diagnostic(
      `${modes.length - done} of ${modes.length} pulls of ${running.repo} still running at the reload`,
    );
    await pulls;
    assert.equal(await servedSerial(), second.serial);
    const img = hub.catalogue["docker-list"];
    for (const mode of modes) {
      await pullThrough(mode, img, mirror);
      t.diagnostic(`after the reload, ${mode.name} × ${img.repo}: ${mode.expected(img)}`);
    }
    assert.equal(await mirror.metric(RELOADS, { outcome: "failed" }), 0);
  });

  test("a certificate from another CA is refused by every client", async (t) => {
    const rogue = await issue(rogueCa, "hubmirror rogue");
    await swapTo(rogue);
    const served = await registryRequests();
    const img = hub.catalogue["oci-index"];
    for (const mode of modes) {
      const err = await mode.pull(img).then(
        () => assert.fail(`${mode.name} pulled from a mirror whose certificate it can't trust`),
        (e: Error) => e,
      );
      assert.match(err.message, /x509|certificate/, mode.name);
      t.diagnostic(`${mode.name}: ${/.*(x509|certificate).*/.exec(err.message)?.[0].trim()}`);
    }
    assert.equal(await registryRequests(), served, "no request got past the handshake");
  });
});
