import { createHash } from "node:crypto";
import { RegistryError } from "../errors/oci-errors.js";

// Grammar from the OCI distribution spec.
const NAME_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const NAME_RE = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST_RE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };
const MAX_NAME_LENGTH = 255;

export type Digest = `${string}:${string}`;

export function parseName(raw: string, registry: string): string {
  if (raw.length > MAX_NAME_LENGTH || !NAME_RE.test(raw)) {
    throw new RegistryError("NAME_INVALID", `invalid repository name: ${raw.slice(0, 300)}`);
  }
  // Docker Hub keeps official images under library/; clients may send the bare name.
  const name = registry === "docker.io" && !raw.includes("/") ? `library/${raw}` : raw;
  // The limit is on the name the upstream sees: a longer one is the client's error, not the upstream's 500.
  if (name.length > MAX_NAME_LENGTH) {
    throw new RegistryError(
      "NAME_INVALID",
      `repository name ${name.slice(0, 40)}… is ${name.length} characters; the limit is ${MAX_NAME_LENGTH}`,
    );
  }
  return name;
}

/** Tags can't contain ':', so a reference with one is a digest, malformed or not (DIGEST_INVALID). */
export function isDigest(ref: string): boolean {
  return ref.includes(":");
}

/** Validates `algorithm:hex`; only algorithms we can verify are accepted. */
export function parseDigest(raw: string): Digest {
  const m = DIGEST_RE.exec(raw);
  const algorithm = m?.[1];
  const hex = m?.[2];
  if (!algorithm || !hex) throw new RegistryError("DIGEST_INVALID", `invalid digest: ${raw.slice(0, 200)}`);
  const length = HEX_LENGTH[algorithm];
  if (length === undefined) {
    throw new RegistryError("DIGEST_INVALID", `unsupported digest algorithm: ${algorithm}`);
  }
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) {
    throw new RegistryError("DIGEST_INVALID", `invalid ${algorithm} digest: ${raw.slice(0, 200)}`);
  }
  return raw as Digest;
}

/**
 * A manifest reference without ':' that breaks the tag grammar can name no manifest: MANIFEST_UNKNOWN (404), as
 * Distribution answers and the OCI conformance suite expects (TAG_INVALID is for a pushed manifest's tag).
 */
export function parseTag(raw: string): string {
  if (!TAG_RE.test(raw))
    throw new RegistryError("MANIFEST_UNKNOWN", `no manifest can have the tag ${raw.slice(0, 200)}`);
  return raw;
}

export function digestAlgorithm(digest: Digest): string {
  return digest.slice(0, digest.indexOf(":"));
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(":") + 1);
}

/** The digest of `body` by `algorithm` (one parseDigest accepts). */
export function digestOf(body: Buffer, algorithm = "sha256"): Digest {
  return `${algorithm}:${createHash(algorithm).update(body).digest("hex")}`;
}
