// The registries.conf that makes containers/image (podman, skopeo) use the registry under test as the
// docker.io mirror.
import { writeFile } from "node:fs/promises";

/**
 * Writes a registries.conf whose only docker.io mirror is `mirrorUrl` (`http://host:port[/path]`).
 * containers/image wants the mirror as `host:port[/path]`; `insecure = true` lets it speak plain HTTP.
 * Unqualified names (`busybox`) resolve to docker.io. On a mirror failure containers/image falls back to
 * docker.io itself: run only inside test/netns-run.sh.
 */
export async function writeRegistriesConf(path: string, mirrorUrl: string): Promise<void> {
  const location = mirrorUrl.replace(/^https?:\/\//, "").replace(/\/$/, "");
  await writeFile(
    path,
    [
      'unqualified-search-registries = ["docker.io"]',
      'short-name-mode = "permissive"',
      "[[registry]]",
      'prefix = "docker.io"',
      'location = "docker.io"',
      "[[registry.mirror]]",
      `location = "${location}"`,
      "insecure = true",
      "",
    ].join("\n"),
  );
}
