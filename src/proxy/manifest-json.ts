import { z } from "zod";
import { RegistryError } from "../errors/oci-errors.js";
import { type Digest, parseDigest } from "../reference/reference.js";

const descriptor = z.looseObject({ digest: z.string() });
const manifestSchema = z.looseObject({
  mediaType: z.string().optional(),
  config: descriptor.optional(),
  layers: z.array(descriptor).optional(),
  manifests: z.array(descriptor).optional(),
});

export interface ParsedManifest {
  /** The manifest's own mediaType field, when it has one. */
  mediaType: string | undefined;
  /** What it points at (config, layers, child manifests), by digest; what upstream vouches its repository has. */
  references: Digest[];
}

/** Reads what the proxy needs from a manifest's JSON; throws MANIFEST_INVALID for anything that is not one. */
export function parseManifest(body: Buffer): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new RegistryError("MANIFEST_INVALID", "upstream manifest is not JSON");
  }
  const m = manifestSchema.safeParse(json);
  if (!m.success) throw new RegistryError("MANIFEST_INVALID", "upstream manifest is not a manifest object");
  const refs = [m.data.config, ...(m.data.layers ?? []), ...(m.data.manifests ?? [])];
  const references: Digest[] = [];
  for (const r of refs) {
    if (!r) continue;
    try {
      references.push(parseDigest(r.digest));
    } catch {
      // A descriptor with a digest we can't verify is never fetched through us: nothing to link.
    }
  }
  return { mediaType: m.data.mediaType || undefined, references };
}
