import { RegistryError } from "../errors/oci-errors.js";
import { type Digest, parseDigest, parseName, parseTag } from "./reference.js";

/** An image as an operator types it: `[REGISTRY/]NAME[:TAG][@DIGEST]`, before routing to an upstream. */
export interface ImageRef {
  /** The name as given (registry prefix included); the upstream set resolves it. */
  name: string;
  tag?: string | undefined;
  digest?: Digest | undefined;
}

function invalid(raw: string, why: string): RegistryError {
  return new RegistryError(
    "NAME_INVALID",
    `invalid image reference ${JSON.stringify(raw.slice(0, 300))}: ${why}`,
  );
}

/** Parses Docker's reference syntax; the tag separator is a ':' after the last '/' (a registry port is not one). */
export function parseImageRef(raw: string): ImageRef {
  const input = raw.trim();
  if (input === "") throw invalid(raw, "empty");
  const at = input.indexOf("@");
  const namePart = at < 0 ? input : input.slice(0, at);
  let digest: Digest | undefined;
  if (at >= 0) {
    try {
      digest = parseDigest(input.slice(at + 1));
    } catch (err) {
      throw invalid(raw, (err as Error).message);
    }
  }
  const colon = namePart.lastIndexOf(":");
  const hasTag = colon > namePart.lastIndexOf("/");
  const name = hasTag ? namePart.slice(0, colon) : namePart;
  let tag: string | undefined;
  if (hasTag) {
    try {
      tag = parseTag(namePart.slice(colon + 1));
    } catch {
      throw invalid(raw, `bad tag ${JSON.stringify(namePart.slice(colon + 1).slice(0, 130))}`);
    }
  }
  if (name === "") throw invalid(raw, "no repository name");
  // The path after a registry host follows the OCI name grammar (lower case); routing adds `library/` later.
  const first = name.split("/")[0] as string;
  const host = name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  try {
    parseName(host ? name.slice(first.length + 1) : name, "");
  } catch {
    throw invalid(
      raw,
      "a repository name is lower-case letters, digits and separators (. _ __ -), slash-separated",
    );
  }
  return { name, tag, digest };
}

/** The reference's tag or digest as one string (a digest wins, as Docker resolves `name:tag@digest`). */
export function referenceOf(ref: ImageRef, defaultTag?: string): string | undefined {
  return ref.digest ?? ref.tag ?? defaultTag;
}
