// The registries.conf that makes containers/image (podman, skopeo) use the registry under test as the
// docker.io mirror.
import { writeFile } from "node:fs/promises";

/** One `[[registry]]` entry whose only mirror is `mirror` (`host:port[/path]`, plain HTTP). */
function mirrored(registry: string, mirror: string): string[] {
  return [
    "[[registry]]",
    `prefix = "${registry}"`,
    `location = "${registry}"`,
    "[[registry.mirror]]",
    `location = "${mirror}"`,
    "insecure = true",
  ];
}

/**
 * Writes a registries.conf whose only docker.io mirror is `mirrorUrl` (`http://host:port[/path]`).
 * containers/image wants the mirror as `host:port[/path]`; `insecure = true` lets it speak plain HTTP.
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
  await writeFile(
    path,
    [
      'unqualified-search-registries = ["docker.io"]',
      'short-name-mode = "permissive"',
      ...mirrored("docker.io", location),
      ...prefixed.flatMap((registry) => mirrored(registry, `${location}/${registry}`)),
      "",
    ].join("\n"),
  );
}
