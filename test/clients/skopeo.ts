// skopeo 1.9 reading images from the registry under test, directly or as the docker.io mirror.
//
// Facts this relies on (skopeo 1.9.3 / containers/image 5.23, Debian 12):
// - skopeo 1.9 ignores CONTAINERS_REGISTRIES_CONF; its hidden global `--registries-conf FILE` flag works.
// - Requests: `GET /v2/` (no Accept), `GET /v2/<name>/manifests/TAG`, blob GETs; `Connection: close`.
// - Only manifests and blobs go to a mirror: `inspect` lists tags from the primary registry (docker.io) unless
//   `--no-tags`, which the inspect methods always pass.
// - `--insecure-policy` makes these calls independent of the host's /etc/containers/policy.json.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { exec, removeTree, tempDir } from "./proc.js";
import { writeRegistriesConf } from "./registries-conf.js";

export interface SkopeoOptions {
  /** e.g. `http://127.0.0.1:5000`: written as the docker.io mirror of a private registries.conf. */
  mirrorUrl: string;
  /** Registries (`registry.b.test`) mirrored through `mirrorUrl/REGISTRY` (see writeRegistriesConf). */
  prefixed?: readonly string[];
}

/** The fields of `skopeo inspect` the tests use. */
export interface InspectResult {
  Name: string;
  Digest: string;
  Architecture: string;
  Os: string;
  Layers: string[];
}

export class Skopeo {
  private digestFiles = 0;

  private constructor(
    readonly dir: string,
    readonly registriesConf: string,
  ) {}

  static async create(opts: SkopeoOptions): Promise<Skopeo> {
    const dir = await tempDir("skopeo");
    const registriesConf = join(dir, "registries.conf");
    await writeRegistriesConf(registriesConf, opts.mirrorUrl, opts.prefixed);
    return new Skopeo(dir, registriesConf);
  }

  /** Any skopeo command, with the mirror config and no signature policy; resolves with stdout. */
  skopeo(args: readonly string[]): Promise<string> {
    return exec("skopeo", ["--insecure-policy", "--registries-conf", this.registriesConf, ...args]);
  }

  /** Copies `host:port/repo:tag` from that registry over plain HTTP into `dir:destDir`; returns the manifest digest. */
  copyDirect(srcRef: string, destDir: string): Promise<string> {
    return this.copy(["--src-tls-verify=false", `docker://${srcRef}`, `dir:${destDir}`]);
  }

  /**
   * Copies a docker.io ref (`busybox:latest`, `docker.io/library/x:tag`), or one of a `prefixed` registry, through
   * the mirror into `dir:destDir`.
   */
  copyViaMirror(ref: string, destDir: string): Promise<string> {
    return this.copy([`docker://${ref}`, `dir:${destDir}`]);
  }

  /** `skopeo inspect --no-tags` of `host:port/repo:tag` over plain HTTP. */
  inspectDirect(ref: string): Promise<InspectResult> {
    return this.inspect(["--tls-verify=false", `docker://${ref}`]);
  }

  /** `skopeo inspect --no-tags` of a docker.io ref through the mirror. */
  inspectViaMirror(ref: string): Promise<InspectResult> {
    return this.inspect([`docker://${ref}`]);
  }

  /** Deletes the config and digest files (skopeo keeps no other state). */
  stop(): Promise<void> {
    return removeTree(this.dir);
  }

  private async inspect(args: readonly string[]): Promise<InspectResult> {
    return JSON.parse(await this.skopeo(["inspect", "--no-tags", ...args]));
  }

  private async copy(args: readonly string[]): Promise<string> {
    const digestFile = join(this.dir, `digest-${this.digestFiles++}`);
    await this.skopeo(["copy", "--quiet", "--digestfile", digestFile, ...args]);
    return (await readFile(digestFile, "utf8")).trim();
  }
}
