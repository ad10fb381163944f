// A private containerd 1.6 and `ctr` pulls through the registry under test, as a docker.io mirror
// (hosts.toml) or addressed directly over plain HTTP.
//
// Facts this relies on (containerd 1.6.20, Debian 12):
// - `ctr images pull` does the HTTP itself (the daemon only stores and unpacks), so the hosts dir is a `ctr`
//   flag, not daemon config. An `http://` host in hosts.toml needs nothing else to be accepted.
// - As a mirror it sends no `/v2/` ping and keeps connections alive: `HEAD /v2/library/x/manifests/TAG?ns=docker.io`,
//   then GETs of manifests and blobs by digest, each with `?ns=docker.io` and `Accept: <media type>, */*`.
// - Content is shared across pulls: a second pull of the same image only HEADs the tag. `removeImage` (with
//   `--sync`, which waits for garbage collection) makes the next pull fetch everything again.
// - `server = "https://registry-1.docker.io"` is the fallback when the mirror fails: run only inside
//   test/netns-run.sh.
// - `ctr --user NAME:SECRET` answers a 401 Bearer challenge by POSTing the OAuth2 password grant to the realm
//   first (GET with Basic auth if that answers 400/401/404); a `[host."…".header]` table in hosts.toml adds
//   static headers (an Authorization) to every request to that host. A 429 is not retried.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Daemon, exec, removeTree, tempDir } from "./proc.js";

export interface ContainerdOptions {
  /** e.g. `http://127.0.0.1:5000`, written as the docker.io mirror in `hostsDir/docker.io/hosts.toml`. */
  mirrorUrl: string;
  /**
   * More registries (`registry.b.test`, `ghcr.io`) with `mirrorUrl` as their mirror too, each in its own
   * `hostsDir/REGISTRY/hosts.toml` with `server = "https://REGISTRY"`: containerd then asks the mirror with
   * `?ns=REGISTRY`.
   */
  registries?: readonly string[];
  /** The CA file (PEM) an `https://` mirror's certificate is checked against: hosts.toml `ca`. */
  ca?: string;
}

/**
 * Writes `hostsDir/REGISTRY/hosts.toml`: `server`, and `mirrorUrl` as a pull/resolve host in front of it, sent
 * `headers` (e.g. an `Authorization`) on every request, its certificate checked against the `ca` file if given.
 */
export async function writeHostsToml(
  hostsDir: string,
  registry: string,
  mirrorUrl: string,
  server = `https://${registry}`,
  headers: Record<string, string> = {},
  ca?: string,
): Promise<void> {
  await mkdir(join(hostsDir, registry), { recursive: true });
  const header = Object.entries(headers).map(([k, v]) => `    ${k} = ${JSON.stringify([v])}`);
  await writeFile(
    join(hostsDir, registry, "hosts.toml"),
    [
      `server = "${server}"`,
      `[host."${mirrorUrl}"]`,
      '  capabilities = ["pull", "resolve"]',
      ...(ca ? [`  ca = ${JSON.stringify(ca)}`] : []),
      ...(header.length > 0 ? [`  [host."${mirrorUrl}".header]`, ...header] : []),
      "",
    ].join("\n"),
  );
}

export interface PullOptions {
  /** e.g. `linux/amd64`; ctr's default is the host's platform. */
  platform?: string;
  /** Fetch every platform of an index (ctr's default fetches only the matching one). */
  allPlatforms?: boolean;
}

export class Containerd {
  private constructor(
    readonly dir: string,
    readonly socket: string,
    readonly hostsDir: string,
    private readonly daemon: Daemon,
  ) {}

  static async start(opts: ContainerdOptions): Promise<Containerd> {
    const dir = await tempDir("containerd");
    const socket = join(dir, "containerd.sock");
    const config = join(dir, "config.toml");
    // CRI is disabled: it needs CNI config and adds seconds of startup for nothing a pull uses.
    await writeFile(
      config,
      [
        "version = 2",
        `root = "${join(dir, "root")}"`,
        `state = "${join(dir, "state")}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${socket}"`,
        "[ttrpc]",
        `  address = "${socket}.ttrpc"`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${join(dir, "opt")}"`,
        "",
      ].join("\n"),
    );
    const hostsDir = join(dir, "hosts.d");
    const { mirrorUrl, ca } = opts;
    await writeHostsToml(hostsDir, "docker.io", mirrorUrl, "https://registry-1.docker.io", {}, ca);
    for (const registry of opts.registries ?? [])
      await writeHostsToml(hostsDir, registry, mirrorUrl, `https://${registry}`, {}, ca);
    const daemon = Daemon.spawn(
      "containerd",
      "containerd",
      ["--config", config],
      join(dir, "containerd.log"),
    );
    const c = new Containerd(dir, socket, hostsDir, daemon);
    try {
      await daemon.waitReady(async () => (await c.ctr(["version"])).includes("Server:"));
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** Any `ctr` command against this daemon; resolves with stdout. */
  ctr(args: readonly string[]): Promise<string> {
    return exec("ctr", ["--address", this.socket, ...args]);
  }

  /**
   * Pulls a fully qualified ref (`docker.io/library/x:tag`, or one of `registries`) through its hosts.toml
   * mirror.
   */
  async pullViaHostsDir(ref: string, opts: PullOptions = {}): Promise<string> {
    await this.ctr(["images", "pull", "--hosts-dir", this.hostsDir, ...platformArgs(opts), ref]);
    return this.imageDigest(ref);
  }

  /**
   * Pulls a fully qualified ref through the hosts.toml mirrors of `hostsDir`, with `ctr --user NAME:SECRET` when
   * `user` is given (ctr then answers a registry's 401 challenge with a token from its realm).
   */
  async pullWith(ref: string, hostsDir: string, user?: string): Promise<string> {
    await this.ctr(["images", "pull", "--hosts-dir", hostsDir, ...(user ? ["--user", user] : []), ref]);
    return this.imageDigest(ref);
  }

  /** Pulls `host:port/repo:tag` straight from that registry over plain HTTP (no mirror logic). */
  async pullPlainHttp(ref: string, opts: PullOptions = {}): Promise<string> {
    await this.ctr(["images", "pull", "--plain-http", ...platformArgs(opts), ref]);
    return this.imageDigest(ref);
  }

  /** The image's target digest (the manifest or index the tag resolved to). */
  async imageDigest(ref: string): Promise<string> {
    // Columns: REF TYPE DIGEST SIZE PLATFORMS LABELS.
    const rows = (await this.ctr(["images", "ls", `name==${ref}`])).trim().split("\n").slice(1);
    const digest = rows[0]?.split(/\s+/)[2];
    if (!digest?.startsWith("sha256:")) throw new Error(`${ref}: not in containerd's image store`);
    return digest;
  }

  /** Removes the image and waits for its content to be garbage-collected, so a re-pull fetches blobs again. */
  async removeImage(ref: string): Promise<void> {
    await this.ctr(["images", "rm", "--sync", ref]);
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
    await removeTree(this.dir);
  }
}

function platformArgs(opts: PullOptions): string[] {
  if (opts.allPlatforms) return ["--all-platforms"];
  return opts.platform ? ["--platform", opts.platform] : [];
}
