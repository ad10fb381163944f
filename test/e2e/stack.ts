// What every end-to-end file starts once: a Docker-Hub-like upstream (the token server and Distribution with token
// auth, holding the fixture catalogue), hubmirror as a child process in front of it (startMirrorProcess), and the
// four real clients with hubmirror as their docker.io mirror. Run only inside test/netns-run.sh: with no route off
// the machine, a client that falls back to registry-1.docker.io fails instead of passing.
export { verifiedStore } from "../fixtures/verify-store.js";

import { after, before } from "node:test";
import type { ConfigInput } from "../../src/config/schema.js";
import { Containerd } from "../clients/containerd.js";
import { Dockerd } from "../clients/dockerd.js";
import { assertLoopbackOnly } from "../clients/netns.js";
import { Podman } from "../clients/podman.js";
import { Skopeo } from "../clients/skopeo.js";
import { type FaultProxy, startFaultProxy } from "../fixtures/fault-proxy.js";
import { buildCatalogue, type Catalogue, pushImage, type TestImage } from "../fixtures/images.js";
import { startTokenServer, type TokenServer } from "../fixtures/token-server.js";
import { startUpstreamRegistry, type UpstreamRegistry } from "../fixtures/upstream-registry.js";
import { startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";
import { type ModeName, type PullMode, pullModes } from "./pull-modes.js";

const pusher = { username: "pusher", password: "s3cret" };

export interface Hub {
  tokens: TokenServer;
  registry: UpstreamRegistry;
  catalogue: Catalogue;
  images: TestImage[];
  /** Pushes one more image (as `repo:latest`). */
  push(img: TestImage, repo?: string): Promise<void>;
  stop(): Promise<void>;
}

/** The token server and a token-auth Distribution holding the catalogue; `expiresIn` is the token lifetime (s). */
export async function startHub(opts: { expiresIn?: number } = {}): Promise<Hub> {
  const tokens = await startTokenServer({ users: { [pusher.username]: pusher.password }, ...opts });
  const registry = await startUpstreamRegistry({ auth: "token", tokenServer: tokens }).catch(async (err) => {
    await tokens.stop();
    throw err;
  });
  const push = (img: TestImage, repo = img.repo) => pushImage(registry.url, repo, "latest", img, pusher);
  const stop = async () => {
    await registry.stop();
    await tokens.stop();
  };
  try {
    const catalogue = await buildCatalogue();
    const images = Object.values(catalogue);
    for (const img of images) await push(img);
    await registry.clearAccessLog();
    return { tokens, registry, catalogue, images, push, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The four clients, each configured with `mirrorUrl` as its docker.io mirror. */
export class Clients {
  private constructor(
    readonly dockerd: Dockerd,
    readonly containerd: Containerd,
    readonly podman: Podman,
    readonly skopeo: Skopeo,
  ) {}

  /**
   * Starts them in parallel; if one fails, stops the others. `registries` (`registry.b.test`) are mirrored too:
   * by containerd through `ns` (a hosts.toml each), by podman and skopeo through a path prefix
   * (`mirror/REGISTRY`); dockerd mirrors docker.io only. `ca`: the CA file containerd checks an https mirror with
   * (the others read theirs from certs.d).
   */
  static async start(
    mirrorUrl: string,
    opts: { registries?: readonly string[]; ca?: string } = {},
  ): Promise<Clients> {
    assertLoopbackOnly();
    const { registries = [], ca } = opts;
    const started = await Promise.allSettled([
      Dockerd.start({ mirrorUrl }),
      Containerd.start({ mirrorUrl, registries, ...(ca ? { ca } : {}) }),
      Podman.create({ mirrorUrl, prefixed: registries }),
      Skopeo.create({ mirrorUrl, prefixed: registries }),
    ] as const);
    const [d, c, p, s] = started;
    if (
      d.status === "fulfilled" &&
      c.status === "fulfilled" &&
      p.status === "fulfilled" &&
      s.status === "fulfilled"
    )
      return new Clients(d.value, c.value, p.value, s.value);
    await Promise.allSettled(started.map((r) => (r.status === "fulfilled" ? r.value.stop() : undefined)));
    throw (started.find((r) => r.status === "rejected") as PromiseRejectedResult).reason;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.dockerd, this.containerd, this.podman, this.skopeo].map((c) => c.stop()));
  }
}

/** A running stack: the hub, hubmirror in front of it, the clients, and their ways of pulling through it. */
export interface Stack {
  hub: Hub;
  mirror: TempMirrorProcess;
  clients: Clients;
  modes: Record<ModeName, PullMode>;
}

export interface StackOptions {
  /** Passed to startHub. */
  hub?: { expiresIn?: number };
  /** Runs once the hub is up, before anything else starts: e.g. pushes more images. */
  prepare?: (hub: Hub) => Promise<void>;
  /** Puts a fault proxy between hubmirror and the registry. */
  faultProxy?: boolean;
  /** hubmirror's config (see startMirrorProcess). */
  mirror?: ConfigInput;
  /** The `before` hook's timeout (ms). */
  timeout?: number;
}

/**
 * Registers the node:test `before` hook that starts the stack (hub, `prepare`, the fault proxy if asked for,
 * hubmirror, the clients) and the `after` hook that stops what was started, in reverse. Returns the stack, filled
 * in by `before`: read its fields inside tests, not at module level.
 */
export function useStack(opts: StackOptions & { faultProxy: true }): Stack & { proxy: FaultProxy };
export function useStack(opts?: StackOptions): Stack;
export function useStack(opts: StackOptions = {}): Stack & { proxy?: FaultProxy } {
  const stack = {} as Stack & { proxy?: FaultProxy };
  const started: { stop(): Promise<void> }[] = [];
  before(
    async () => {
      stack.hub = await startHub(opts.hub);
      started.push(stack.hub);
      await opts.prepare?.(stack.hub);
      let upstream = stack.hub.registry.url;
      if (opts.faultProxy) {
        stack.proxy = await startFaultProxy(upstream);
        started.push(stack.proxy);
        upstream = stack.proxy.url;
      }
      stack.mirror = await startMirrorProcess(upstream, opts.mirror);
      started.push(stack.mirror);
      stack.clients = await Clients.start(stack.mirror.process.url);
      started.push(stack.clients);
      stack.modes = pullModes(stack.clients, stack.mirror.process);
    },
    { timeout: opts.timeout ?? 60_000 },
  );
  after(async () => {
    for (const part of [...started].reverse()) await part.stop();
  });
  return stack;
}
