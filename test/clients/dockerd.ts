// A private dockerd 20.10 whose only docker.io mirror is the registry under test.
//
// Facts this relies on (dockerd 20.10.24, Debian 12):
// - An `http://` mirror on 127.0.0.1 is used as is: no `insecure-registries` entry is needed (127.0.0.0/8 is
//   insecure by default, and the explicit scheme skips the https attempt).
// - The mirror applies to docker.io names only; it is asked `GET /v2/` (no Accept), `HEAD
//   /v2/library/x/manifests/TAG`, `GET …/manifests/sha256:…`, then blob GETs, each with `Connection: close`.
// - Any mirror error falls back to registry-1.docker.io: run only inside test/netns-run.sh.
// - dockerd sends no credentials to a mirror: a user's identity can only ride in the mirror's host name (a
//   personal address `<token>.<domain>`), resolved like any name (/etc/hosts in the tests).
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Daemon, exec, killStray, removeTree, tempDir } from "./proc.js";

/** Docker 20.10's own CLI: a newer CLI may come first on PATH and negotiate differently. */
export const DOCKER_CLI = "/usr/bin/docker";
const DOCKERD = "/usr/sbin/dockerd";

export interface DockerdOptions {
  /** e.g. `http://127.0.0.1:5000` (no path: dockerd mirrors answer at the root). */
  mirrorUrl: string;
  /** `host:port`s dockerd may speak plain HTTP to (daemon.json `insecure-registries`). */
  insecureRegistries?: readonly string[];
}

export class Dockerd {
  private constructor(
    readonly dir: string,
    readonly socket: string,
    private readonly daemon: Daemon,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async start(opts: DockerdOptions): Promise<Dockerd> {
    const dir = await tempDir("dockerd");
    const socket = join(dir, "docker.sock");
    // Our own config file, so the host's /etc/docker/daemon.json cannot add mirrors or settings.
    const config = join(dir, "daemon.json");
    await writeFile(
      config,
      JSON.stringify({
        "registry-mirrors": [opts.mirrorUrl],
        "insecure-registries": opts.insecureRegistries ?? [],
      }),
    );
    const daemon = Daemon.spawn(
      "dockerd",
      DOCKERD,
      [
        `--config-file=${config}`,
        `--data-root=${join(dir, "data")}`,
        `--exec-root=${join(dir, "exec")}`,
        `--pidfile=${join(dir, "dockerd.pid")}`,
        `--host=unix://${socket}`,
        "--storage-driver=vfs",
        "--iptables=false",
        "--bridge=none",
      ],
      join(dir, "dockerd.log"),
    );
    // A private DOCKER_CONFIG keeps the CLI away from ~/.docker (credentials, contexts, cli plugins).
    const env = { ...process.env, DOCKER_CONFIG: join(dir, "cli") };
    const d = new Dockerd(dir, socket, daemon, env);
    try {
      await daemon.waitReady(
        async () => (await d.docker(["version", "--format", "{{.Server.Version}}"])) !== "",
      );
    } catch (err) {
      await d.stop();
      throw err;
    }
    return d;
  }

  /** Any `docker` CLI command against this daemon; resolves with trimmed stdout. */
  async docker(args: readonly string[]): Promise<string> {
    return (await exec(DOCKER_CLI, ["-H", `unix://${this.socket}`, ...args], this.env)).trim();
  }

  /**
   * `docker pull REF`; a docker.io ref (`busybox`, `library/busybox:tag`) goes to the mirror. On failure the
   * CLI reports only the last endpoint's error (registry-1.docker.io), so the mirror's error is added from the
   * daemon log.
   */
  async pull(ref: string): Promise<string> {
    const logPath = join(this.dir, "dockerd.log");
    const logStart = (await stat(logPath)).size;
    try {
      await this.docker(["pull", "--quiet", ref]);
    } catch (err) {
      const log = (await readFile(logPath)).subarray(logStart).toString();
      const endpointErrors = log.split("\n").filter((line) => line.includes("Attempting next endpoint"));
      throw new Error(`${(err as Error).message}\ndockerd log:\n${endpointErrors.join("\n")}`);
    }
    return this.imageDigest(ref);
  }

  /** `docker run --rm --network none IMAGE CMD...`; resolves with the container's stdout. */
  run(image: string, cmd: readonly string[]): Promise<string> {
    return this.docker(["run", "--rm", "--network", "none", image, ...cmd]);
  }

  /** The manifest digest the image was pulled by (its first RepoDigest), e.g. `sha256:…`. */
  async imageDigest(ref: string): Promise<string> {
    const repoDigests = JSON.parse(
      await this.docker(["image", "inspect", "--format", "{{json .RepoDigests}}", ref]),
    );
    const first: unknown = repoDigests?.[0];
    if (typeof first !== "string" || !first.includes("@")) throw new Error(`${ref}: no RepoDigests`);
    return first.slice(first.indexOf("@") + 1);
  }

  /** `docker rmi -f REF`, so the next pull of it goes to the mirror again. */
  async removeImage(ref: string): Promise<void> {
    await this.docker(["rmi", "--force", ref]);
  }

  async stop(): Promise<void> {
    await this.daemon.stop(15_000);
    // dockerd stops the containerd it started, unless dockerd had to be SIGKILLed: then that one is orphaned.
    await killStray(join(this.dir, "exec", "containerd", "containerd.pid"), "containerd");
    await removeTree(this.dir);
  }
}
