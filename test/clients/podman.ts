// podman 4.3 with private storage, pulling docker.io images through the registry under test.
//
// Facts this relies on (podman 4.3.1 / containers/image 5.23, Debian 12):
// - podman honours CONTAINERS_REGISTRIES_CONF (skopeo 1.9 does not). The drop-ins in
//   /etc/containers/registries.conf.d still load: `busybox` resolves through its shortnames.conf alias.
// - As a mirror client it sends `GET /v2/` (no Accept), `GET /v2/library/x/manifests/TAG` (no HEAD first), then
//   blob GETs, each with `Connection: close`. No `?ns=`.
// - Debian ships no crun: the runtime must be named (runc). vfs + cgroupfs + a file events backend need no
//   systemd, fuse or overlay support; `run --network none` needs no netavark/CNI.
// - No daemon: every call is its own process, and stop() only deletes the storage.
// - Credentials: REGISTRY_AUTH_FILE (which must exist) holds what `podman login HOST` stores; a mirror gets the
//   credentials stored for its own location (`host:port`), never those of the registry it mirrors. On a 429,
//   containers/image waits out Retry-After (at most 60 s, 5 times) before it gives up.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exec, removeTree, tempDir } from "./proc.js";
import { writeRegistriesConf } from "./registries-conf.js";

export interface PodmanOptions {
  /** e.g. `http://127.0.0.1:5000`: written as the docker.io mirror of a private registries.conf. */
  mirrorUrl: string;
  /** Registries (`registry.b.test`) mirrored through `mirrorUrl/REGISTRY` (see writeRegistriesConf). */
  prefixed?: readonly string[];
}

export class Podman {
  private constructor(
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(opts: PodmanOptions): Promise<Podman> {
    const dir = await tempDir("podman");
    const registriesConf = join(dir, "registries.conf");
    await writeRegistriesConf(registriesConf, opts.mirrorUrl, opts.prefixed);
    // A private auth file too (podman 4.3 wants it to exist): `podman login` never touches the host's credentials.
    const authFile = join(dir, "auth.json");
    await writeFile(authFile, '{"auths":{}}\n');
    return new Podman(dir, {
      ...process.env,
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      REGISTRY_AUTH_FILE: authFile,
    });
  }

  /** Any podman command on this private storage; resolves with trimmed stdout. */
  async podman(args: readonly string[]): Promise<string> {
    const global = [
      `--root=${join(this.dir, "root")}`,
      `--runroot=${join(this.dir, "runroot")}`,
      `--tmpdir=${join(this.dir, "tmp")}`,
      `--volumepath=${join(this.dir, "volumes")}`,
      "--storage-driver=vfs",
      "--cgroup-manager=cgroupfs",
      "--events-backend=file",
      "--runtime=runc",
    ];
    return (await exec("podman", [...global, ...args], this.env)).trim();
  }

  /** `podman pull REF`; docker.io refs (`busybox`, `docker.io/library/x:tag`) go to the mirror. */
  async pull(ref: string): Promise<string> {
    await this.podman(["pull", "--quiet", ref]);
    return this.imageDigest(ref);
  }

  /** The manifest digest the image was pulled by, e.g. `sha256:…`. */
  imageDigest(ref: string): Promise<string> {
    return this.podman(["image", "inspect", "--format", "{{.Digest}}", ref]);
  }

  /** `podman run --rm --network none IMAGE CMD...`; resolves with the container's stdout. */
  run(image: string, cmd: readonly string[]): Promise<string> {
    return this.podman(["run", "--rm", "--network", "none", image, ...cmd]);
  }

  /** `podman rmi -f REF`, so the next pull of it goes to the mirror again. */
  async removeImage(ref: string): Promise<void> {
    await this.podman(["rmi", "--force", ref]);
  }

  /** Deletes the private storage (podman runs no daemon). */
  stop(): Promise<void> {
    return removeTree(this.dir);
  }
}
