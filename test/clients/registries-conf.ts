// The registries.conf that makes containers/image (podman, skopeo) use the registry under test as the
// docker.io mirror.
import { writeFile } from "node:fs/promises";

/** One `[[registry]]` entry whose only mirror is `mirror` (`host:port[/path]`), over plain HTTP if `insecure`. */
function mirrored(registry: string, mirror: string, insecure: boolean): string[] {
  return [
    "[[registry]]",
    `prefix = "${registry}"`,
    `location = "${registry}"`,
    "[[registry.mirror]]",
    `location = "${mirror}"`,
    ...(insecure ? ["insecure = true"] : []),
  ];
}

/**
 * Writes a registries.conf whose only docker.io mirror is `mirrorUrl` (`http[s]://host:port[/path]`).
 * containers/image wants the mirror as `host:port[/path]`; for an `http://` mirror `insecure = true` lets it speak
 * plain HTTP, an `https://` one gets its certificate checked (against certs.d/HOST:PORT/ca.crt).
 * Unqualified names (`busybox`) resolve to docker.io. On a mirror failure containers/image falls back to
 * docker.io itself: run only inside test/netns-run.sh.
 *
 * Each of `prefixed` (`registry.b.test`) gets the mirror with its name as a path prefix
 * (`host:port/registry.b.test`): the mirror is asked `/v2/registry.b.test/REPO/…`. On a mirror failure such a
 * registry is tried itself, and its name must resolve nowhere.
 */
export async function writeRegistriesConf(
  path: string,
  mirrorUrl: string,
  prefixed: readonly string[] = [],
): Promise<void> {
  const location = mirrorUrl.replace(/^https?:\/\//, "").replace(/\/$/, "");
  const insecure = mirrorUrl.startsWith("http://");
  await writeFile(
    path,
    [
      'unqualified-search-registries = ["docker.io"]',
      'short-name-mode = "permissive"',
      ...mirrored("docker.io", location, insecure),
      ...prefixed.flatMap((registry) => mirrored(registry, `${location}/${registry}`, insecure)),
      "",
    ].join("\n"),
  );
}
