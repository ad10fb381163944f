import { type Digest, parseDigest } from "../reference/reference.js";
import type { ManifestJson } from "../upstream/upstream-json.js";

/** What a manifest points at (config, layers, child manifests): what upstream vouches its repository holds. */
export function referencesOf(m: ManifestJson): Digest[] {
  const out: Digest[] = [];
  for (const d of [m.config, ...(m.layers ?? []), ...(m.manifests ?? [])]) {
    if (!d) continue;
    try {
      out.push(parseDigest(d.digest));
    } catch {
      // A descriptor with a digest we can't verify is never fetched through us: nothing to link.
    }
  }
  return out;
}
