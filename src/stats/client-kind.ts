/** The kinds of client the statistics tell apart, by User-Agent. */
export const CLIENT_KINDS = ["docker", "containerd", "podman", "kubelet", "other"] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

/**
 * What each client sends, e.g. dockerd `docker/20.10.24+dfsg1 go/go1.19.8 … UpstreamClient(Docker-Client/…)`,
 * ctr and the CRI plugin `containerd/1.6.20~ds1`, podman and buildah `containers/5.23.1 (github.com/containers/
 * image)`, `skopeo/1.9.3`, CRI-O `cri-o/1.25.2 go/… os/linux arch/amd64`. A kubelet pulls through its runtime, so
 * its pulls count under that runtime's name (CRI-O's under kubelet).
 */
const RULES: readonly [RegExp, ClientKind][] = [
  [/^(?:docker|buildkit)\//i, "docker"],
  [/^(?:kubelet|cri-o)\//i, "kubelet"],
  [/^containerd\//i, "containerd"],
  [/^(?:podman|skopeo|buildah|libpod|containers)\//i, "podman"],
];

/** User-Agents repeat (one per client build): remembered, up to this many. */
const REMEMBERED = 256;
const known = new Map<string, ClientKind>();

export function clientKind(userAgent: string | undefined): ClientKind {
  if (!userAgent) return "other";
  let kind = known.get(userAgent);
  if (kind) return kind;
  kind = RULES.find(([re]) => re.test(userAgent))?.[1] ?? "other";
  if (known.size >= REMEMBERED) known.clear();
  known.set(userAgent, kind);
  return kind;
}
