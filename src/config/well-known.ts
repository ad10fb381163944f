/**
 * Registries that can be switched on by name alone (`upstreams: [ghcr.io]`): their API URL and the token realms
 * they send clients to besides their own origin (checked from each registry's `WWW-Authenticate` challenge).
 */
export interface WellKnownRegistry {
  url: string;
  tokenRealms: readonly string[];
}

export const WELL_KNOWN: Readonly<Record<string, WellKnownRegistry>> = {
  "docker.io": { url: "https://registry-1.docker.io", tokenRealms: ["https://auth.docker.io"] },
  // Realm https://ghcr.io/token: its own origin.
  "ghcr.io": { url: "https://ghcr.io", tokenRealms: [] },
  // Realm https://quay.io/v2/auth.
  "quay.io": { url: "https://quay.io", tokenRealms: [] },
  // Anonymous; it answers with redirects to regional Artifact Registry and S3 hosts (public addresses).
  "registry.k8s.io": { url: "https://registry.k8s.io", tokenRealms: [] },
  // Realm https://gcr.io/v2/token.
  "gcr.io": { url: "https://gcr.io", tokenRealms: [] },
  // Anonymous; blobs redirect to *.data.mcr.microsoft.com.
  "mcr.microsoft.com": { url: "https://mcr.microsoft.com", tokenRealms: [] },
  // First challenge names https://nvcr.io/proxy_auth, one after a token expired https://authn.nvidia.com/token.
  "nvcr.io": { url: "https://nvcr.io", tokenRealms: ["https://authn.nvidia.com"] },
};
