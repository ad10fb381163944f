import type { IncomingMessage, ServerResponse } from "node:http";
import type { MetadataStore, RepoKey } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import type { CacheResult, ProxyBlobStore } from "../proxy/proxy-blob-store.js";
import type { ProxyManifestStore } from "../proxy/proxy-manifest-store.js";
import type { Upstream } from "../upstream/upstream.js";

/** What the handlers reach: the proxy layer, never storage or upstream HTTP directly. */
export interface Services {
  blobs: ProxyBlobStore;
  manifests: ProxyManifestStore;
  meta: MetadataStore;
  upstreams: (registry: string) => Upstream;
  defaultRegistry: string;
  metrics: Metrics;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  head: boolean;
  query: URLSearchParams;
  key: RepoKey;
  /** For the access log. */
  cache?: CacheResult;
  bytes: number;
}
