import { RegistryError } from "../errors/oci-errors.js";

/** OS/ARCH[/VARIANT], as an image index lists its manifests. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string | undefined;
}

const PLATFORM = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/;

/** The names uname and distributions use, as image indexes spell them. */
const ARCH_ALIASES: Record<string, string> = { x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64" };

/** Parses `linux/amd64` or `linux/arm/v7`; REQUEST_INVALID naming the value otherwise. */
export function parsePlatform(raw: string): Platform {
  const m = PLATFORM.exec(raw.trim());
  if (!m) {
    throw new RegistryError(
      "REQUEST_INVALID",
      `invalid platform ${JSON.stringify(raw.slice(0, 100))}: expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7`,
    );
  }
  const [, os, arch, variant] = m as unknown as [string, string, string, string | undefined];
  return { os, architecture: ARCH_ALIASES[arch] ?? arch, variant };
}

export function platformName(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/** arm64 without a variant means v8 (as containerd normalizes it). */
function variantOf(p: Platform): string | undefined {
  return p.variant ?? (p.architecture === "arm64" ? "v8" : undefined);
}

/** Whether an index entry's platform is one asked for: a request without a variant takes every variant. */
export function platformMatches(wanted: Platform, have: Platform): boolean {
  if (wanted.os !== have.os || wanted.architecture !== have.architecture) return false;
  return wanted.variant === undefined || variantOf(wanted) === variantOf(have);
}

/** Docker Hub lists BuildKit attestations (provenance, SBOM) as platform unknown/unknown. */
export function isAttestation(p: Platform): boolean {
  return p.os === "unknown" && p.architecture === "unknown";
}
