import { z } from "zod";
import { RegistryError } from "../errors/oci-errors.js";
import { type Digest, parseDigest } from "../reference/reference.js";

const descriptor = z.looseObject({
  digest: z.string(),
  mediaType: z.string().optional(),
  platform: z.looseObject({ os: z.string().optional(), architecture: z.string().optional() }).optional(),
});
const manifestSchema = z.looseObject({
  mediaType: z.string().optional(),
  config: descriptor.optional(),
  layers: z.array(descriptor).optional(),
  manifests: z.array(descriptor).optional(),
});

/** The fields of a manifest or index the proxy reads; anything else is kept as it is. */
export type ManifestJson = z.infer<typeof manifestSchema>;

/** Validates a manifest's JSON; MANIFEST_INVALID for anything that is not a manifest object. */
export function readManifest(body: Buffer): ManifestJson {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new RegistryError("MANIFEST_INVALID", "manifest is not JSON");
  }
  const m = manifestSchema.safeParse(json);
  if (!m.success) throw new RegistryError("MANIFEST_INVALID", "manifest is not a manifest object");
  return m.data;
}

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
