import type { UpstreamConfig } from "../config/upstream-schema.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { RepoKey } from "../metadata/store.js";
import { parseName } from "../reference/reference.js";
import { repoPolicy } from "../reference/repo-pattern.js";
import type { Upstream } from "./upstream.js";

export interface ConfiguredUpstream {
  settings: UpstreamConfig;
  upstream: Upstream;
}

interface Entry extends ConfiguredUpstream {
  allows: (repo: string) => boolean;
}

/** A repository request's upstream and cache key. */
export interface Routed {
  upstream: Upstream;
  key: RepoKey;
}

/**
 * Docker's reference rule: a name's first component is a registry host when it contains '.' or ':' or is
 * `localhost`, and only when more components follow (`/v2/ghcr.io/owner/app/…`, `/v2/docker.io/alpine/…`).
 */
export function splitRegistryPrefix(name: string): [registry: string, rest: string] | undefined {
  const slash = name.indexOf("/");
  if (slash < 0) return undefined;
  const first = name.slice(0, slash);
  if (first !== "localhost" && !first.includes(".") && !first.includes(":")) return undefined;
  return [first, name.slice(slash + 1)];
}

function withoutPort(host: string): string {
  const colon = host.lastIndexOf(":");
  return (colon < 0 ? host : host.slice(0, colon)).toLowerCase();
}

function unknown(registry: string): RegistryError {
  return new RegistryError(
    "NAME_UNKNOWN",
    `no upstream is configured for registry ${registry.slice(0, 100)}`,
  );
}

/**
 * The configured upstreams and how a request finds its own. Only these registries are ever dialled: a request
 * naming any other gets NAME_UNKNOWN before anything leaves the process.
 */
export class UpstreamSet {
  readonly defaultRegistry: string;
  private readonly byRegistry = new Map<string, Entry>();
  private readonly byHost = new Map<string, string>();

  /** The first is the default registry, the one bare names go to. */
  constructor(upstreams: readonly ConfiguredUpstream[]) {
    const first = upstreams[0];
    if (!first) throw new Error("no upstream configured");
    this.defaultRegistry = first.settings.registry;
    for (const u of upstreams) {
      this.byRegistry.set(u.settings.registry, {
        ...u,
        allows: repoPolicy(u.settings.allow, u.settings.deny),
      });
      for (const h of u.settings.hosts) this.byHost.set(h, u.settings.registry);
    }
  }

  get all(): ConfiguredUpstream[] {
    return [...this.byRegistry.values()];
  }

  /** A configured registry's settings. */
  settings(registry: string): UpstreamConfig {
    const entry = this.byRegistry.get(registry);
    if (!entry) throw unknown(registry);
    return entry.settings;
  }

  private hostRoute(host: string | undefined): string | undefined {
    return host && this.byHost.size > 0 ? this.byHost.get(withoutPort(host)) : undefined;
  }

  /** The registry a request names without a path prefix (the catalog's): `?ns=`, else its Host, else the default. */
  registryOf(ns: string | null, host: string | undefined): string {
    const registry = ns || this.hostRoute(host) || this.defaultRegistry;
    if (!this.byRegistry.has(registry)) throw unknown(registry);
    return registry;
  }

  /**
   * Decides a repository request's upstream, in this order: containerd's `?ns=` (a path prefix naming the same
   * registry, as containerd's override_path sends, is dropped); a Host header listed in an upstream's `hosts` (the
   * path is then all name: other registries allow dots in a first component); a registry-host path prefix; else
   * the default registry. NAME_UNKNOWN for an unconfigured registry (before the name is looked at), then
   * NAME_INVALID, then DENIED for a repository its allow/deny patterns exclude.
   */
  resolve(ns: string | null, host: string | undefined, rawName: string): Routed {
    let registry = ns || this.hostRoute(host);
    let name = rawName;
    const prefix = registry === undefined || ns ? splitRegistryPrefix(rawName) : undefined;
    if (prefix && (registry === undefined || prefix[0] === registry)) [registry, name] = prefix;
    registry ??= this.defaultRegistry;
    const entry = this.byRegistry.get(registry);
    if (!entry) throw unknown(registry);
    const repo = parseName(name, registry);
    if (!entry.allows(repo)) {
      throw new RegistryError("DENIED", `${registry}/${repo} is not mirrored here`.slice(0, 400));
    }
    return { upstream: entry.upstream, key: { registry, repo } };
  }

  close(): Promise<unknown> {
    return Promise.all(this.all.map((u) => u.upstream.client.close()));
  }
}
