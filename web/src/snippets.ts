// The Setup page's configuration snippets for one mirror address. Pure (no DOM), so the unit tests check every
// snippet against the address; the page only renders them.

export interface MirrorAddress {
  /** What registry-mirrors and hosts.toml take: scheme, host and port, no path. */
  url: string;
  /** host[:port], what registries.conf takes. */
  host: string;
  /** Plain HTTP: the clients that care must be told. */
  insecure: boolean;
}

/**
 * Parses an address as a person types it (`mirror.example:5000`, `https://mirror.example`) or as the page's
 * origin; a scheme-less one gets `scheme`. Undefined when it is not a bare http(s) origin.
 */
export function parseAddress(text: string, scheme: "http:" | "https:" = "http:"): MirrorAddress | undefined {
  const trimmed = text.trim().replace(/\/+$/, "");
  if (!trimmed) return undefined;
  let u: URL;
  try {
    u = new URL(trimmed.includes("://") ? trimmed : `${scheme}//${trimmed}`);
  } catch {
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  if (u.username || u.password || u.pathname !== "/" || u.search || u.hash) return undefined;
  return { url: u.origin, host: u.host, insecure: u.protocol === "http:" };
}

/** True for addresses only this machine can reach: other machines need the mirror's real name. */
export function isLoopback(a: MirrorAddress): boolean {
  const hostname = new URL(a.url).hostname;
  return hostname === "localhost" || hostname === "[::1]" || /^127\./.test(hostname);
}

export interface Step {
  text: string;
  /** The file the code goes into, when it is a file's content rather than commands. */
  file?: string;
  code?: string;
}

export interface Guide {
  id: string;
  title: string;
  intro: string;
  steps: Step[];
}

/** Users mode: who pulls, with which token, and the token's personal address (`https://TOKEN.domain`). */
export interface Credentials {
  user: string;
  secret: string;
  personal: MirrorAddress | undefined;
}

const TEST_PULL = "docker.io/library/alpine:latest";

/** The `Authorization: Basic` value for the user's name and token. */
export function basicAuth(c: Credentials): string {
  return `Basic ${btoa(`${c.user}:${c.secret}`)}`;
}

function docker(own: MirrorAddress, cred?: Credentials): Guide {
  // dockerd sends no credentials to a mirror: in users mode only the personal address carries the token.
  const a = cred?.personal ?? own;
  const insecure = a.insecure ? `,\n  "insecure-registries": ["${a.host}"]` : "";
  return {
    id: "docker",
    title: "Docker",
    intro: "dockerd uses a mirror for Docker Hub images only; other registries are pulled directly.",
    steps: [
      {
        text: a.insecure
          ? "Add the mirror to daemon.json, keeping any other keys the file has. insecure-registries lets dockerd " +
            "talk plain HTTP to the mirror by its own name too (docker pull " +
            `${a.host}/library/alpine).`
          : "Add the mirror to daemon.json, keeping any other keys the file has.",
        file: "/etc/docker/daemon.json",
        code: `{\n  "registry-mirrors": ["${a.url}"]${insecure}\n}`,
      },
      { text: "Restart dockerd.", code: "sudo systemctl restart docker" },
      {
        text: "Check: the mirror is listed under Registry Mirrors, and a pull shows up under Recent activity.",
        code: "docker info | grep -A1 'Registry Mirrors'\ndocker pull alpine:latest",
      },
    ],
  };
}

function containerd(a: MirrorAddress, cred?: Credentials): Guide {
  const header = cred ? `\n  [host."${a.url}".header]\n    Authorization = ["${basicAuth(cred)}"]` : "";
  return {
    id: "containerd",
    title: "containerd",
    intro: "containerd 1.6 and newer read per-registry hosts.toml files (the CRI plugin, crictl, kubelet).",
    steps: [
      {
        text:
          "containerd 1.6/1.7: point the CRI plugin at the hosts directory in /etc/containerd/config.toml " +
          "(containerd 2.x reads /etc/containerd/certs.d by default).",
        code: '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"',
      },
      {
        text: "Put the mirror in front of Docker Hub:",
        file: "/etc/containerd/certs.d/docker.io/hosts.toml",
        code: `server = "https://registry-1.docker.io"\n\n[host."${a.url}"]\n  capabilities = ["pull", "resolve"]${header}`,
      },
      { text: "Restart containerd.", code: "sudo systemctl restart containerd" },
      {
        text: "Check with a test pull (ctr needs the hosts directory named):",
        code: `sudo crictl pull ${TEST_PULL}\nsudo ctr images pull --hosts-dir /etc/containerd/certs.d ${TEST_PULL}`,
      },
    ],
  };
}

function k3s(a: MirrorAddress, cred?: Credentials): Guide {
  const auth = cred
    ? `\nconfigs:\n  "${a.host}":\n    auth:\n      username: "${cred.user}"\n      password: "${cred.secret}"`
    : "";
  return {
    id: "k3s",
    title: "k3s / RKE2",
    intro: "On every node; for RKE2 the file is /etc/rancher/rke2/registries.yaml.",
    steps: [
      {
        text: "Add the mirror for docker.io:",
        file: "/etc/rancher/k3s/registries.yaml",
        code: `mirrors:\n  docker.io:\n    endpoint:\n      - "${a.url}"${auth}`,
      },
      {
        text: "Restart the service (k3s-agent on agents; rke2-server or rke2-agent for RKE2).",
        code: "sudo systemctl restart k3s",
      },
      {
        text: "Check: the generated hosts.toml names the mirror, and a test pull goes through it.",
        code:
          "sudo cat /var/lib/rancher/k3s/agent/etc/containerd/certs.d/docker.io/hosts.toml\n" +
          `sudo k3s crictl pull ${TEST_PULL}`,
      },
    ],
  };
}

function containers(a: MirrorAddress, cred?: Credentials): Guide {
  const insecure = a.insecure ? "\ninsecure = true" : "";
  const login: Step[] = cred
    ? [
        {
          text: "Log in to the mirror with your name and pull token (podman keeps it in its auth.json):",
          code: `podman login${a.insecure ? " --tls-verify=false" : ""} -u ${cred.user} -p ${cred.secret} ${a.host}`,
        },
      ]
    : [];
  return {
    id: "podman",
    title: "podman / CRI-O",
    intro: "podman, buildah, skopeo and CRI-O share registries.conf; podman reads it on every run.",
    steps: [
      {
        text:
          "Add the mirror (one [[registry]] table per prefix: extend an existing docker.io one). A drop-in such " +
          "as /etc/containers/registries.conf.d/hubmirror.conf works too.",
        file: "/etc/containers/registries.conf",
        code: `[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "${a.host}"${insecure}`,
      },
      ...login,
      {
        text: "CRI-O reads it at start: restart it (podman needs nothing).",
        code: "sudo systemctl restart crio",
      },
      {
        text: "Check with a test pull:",
        code: `podman pull ${TEST_PULL}\nsudo crictl pull ${TEST_PULL}    # CRI-O`,
      },
    ],
  };
}

function check(a: MirrorAddress): Guide {
  return {
    id: "check",
    title: "Is it working?",
    intro: "From any machine that should use the mirror:",
    steps: [
      { text: "The mirror answers the registry API (prints {}):", code: `curl -s ${a.url}/v2/` },
      {
        text: "After a pull through a client set up above, the image shows under Top images and Recent activity.",
      },
    ],
  };
}

export function setupGuides(a: MirrorAddress, cred?: Credentials): Guide[] {
  return [docker(a, cred), containerd(a, cred), k3s(a, cred), containers(a, cred), check(a)];
}
