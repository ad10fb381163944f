import { setMaxListeners } from "node:events";
import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { adminApi } from "./admin/admin-api.js";
import { ADMIN_ROUTES } from "./admin/routes.js";
import type { Config } from "./config/schema.js";
import { reportLocalWrite } from "./errors/local-write.js";
import { ConnectionTracker } from "./http/connections.js";
import type { Services } from "./http/context.js";
import { createRegistryServer } from "./http/server.js";
import { redirectPolicy } from "./http/user-agent.js";
import { InUse } from "./lifecycle/in-use.js";
import { Lifecycle } from "./lifecycle/lifecycle.js";
import { createLogger, type Logger } from "./log/logger.js";
import { SqliteStore } from "./metadata/sqlite-store.js";
import type { MetadataStore } from "./metadata/store.js";
import { utcDay } from "./metadata/user-store.js";
import { Metrics } from "./metrics/metrics.js";
import { ProxyBlobStore } from "./proxy/proxy-blob-store.js";
import { ProxyManifestStore } from "./proxy/proxy-manifest-store.js";
import { ProxyTagStore } from "./proxy/proxy-tag-store.js";
import { RepoLinks } from "./proxy/repo-links.js";
import { Stats } from "./stats/stats.js";
import { STALE_UPLOAD_MS, uploadsDir } from "./storage/fs-driver.js";
import { openStorage } from "./storage/open-storage.js";
import { sweepTempFiles } from "./storage/temp-files.js";
import { LocalBlobStore } from "./store/blob-store.js";
import { Offloader } from "./store/offloader.js";
import { createRedirectServer } from "./tls/redirect-server.js";
import { TlsEndpoint } from "./tls/tls-endpoint.js";
import { RegistryClient } from "./upstream/registry-client.js";
import { Upstream } from "./upstream/upstream.js";
import { UpstreamSet } from "./upstream/upstreams.js";
import { Users } from "./users/users.js";

const FLUSH_INTERVAL_MS = 5_000;
const MANIFEST_MEMORY_BYTES = 64 << 20;

export interface App {
  server: Server;
  /** The URL the mirror answers at, e.g. http://127.0.0.1:5000, or https://… with `tls.cert`. */
  url: string;
  /** The plain-HTTP listener that redirects to `url` (`tls.redirectListen`), when there is one. */
  redirectUrl: string | undefined;
  metrics: Metrics;
  meta: MetadataStore;
  lifecycle: Lifecycle;
  users: Users;
  log: Logger;
  /** Loads `tls.cert`/`tls.key` again for new connections (SIGHUP); false if they failed (the old pair stays) or there is no TLS. */
  reloadTls(): Promise<boolean>;
  /** Stops accepting, lets transfers finish within shutdownTimeout, aborts the rest, closes the database. */
  close(): Promise<void>;
}

function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, "") || "0.0.0.0", port: Number(listen.slice(i + 1)) };
}

/** Listens on `listen` (HOST:PORT); resolves with the URL it answers at, 0.0.0.0 shown as 127.0.0.1. */
async function listenOn(server: Server, listen: string, scheme: "http" | "https"): Promise<string> {
  const { host, port } = splitHostPort(listen);
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => {
      server.off("error", fail);
      ok();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return `${scheme}://${shownHost === "0.0.0.0" ? "127.0.0.1" : shownHost}:${addr.port}`;
}

export async function startApp(config: Config, log: Logger = createLogger(config.log.level)): Promise<App> {
  const metrics = new Metrics();
  // Before anything is opened: a certificate that can't be used stops the start at once.
  const { cert, key } = config.tls;
  const tls = cert && key ? await TlsEndpoint.load({ cert, key }, metrics, log) : undefined;
  const data = resolve(config.data);
  const spoolDir = join(data, "spool");
  await mkdir(spoolDir, { recursive: true });
  await sweepTempFiles(spoolDir, STALE_UPLOAD_MS);

  const tiers = await openStorage(config, data, metrics);
  const meta = new SqliteStore(join(data, "hubmirror.db"));
  // One client per upstream, built from its resolved settings as they are (UpstreamOptions and more).
  const upstreams = new UpstreamSet(
    config.upstreams.map((settings) => ({
      settings,
      upstream: new Upstream(
        new RegistryClient({ ...settings, limits: config.limits }, metrics, log, ({ limit, remaining }) => {
          meta
            .setUpstreamStatus({
              registry: settings.registry,
              rateLimitLimit: limit,
              rateLimitRemaining: remaining,
              updatedAt: Date.now(),
            })
            .catch(() => {});
        }),
      ),
    })),
  );
  let offloader: Offloader | undefined;
  let lifecycle: Lifecycle | undefined;
  const store = new LocalBlobStore({
    ...tiers,
    index: meta,
    onCommit: (_digest, size) => {
      offloader?.nudge();
      lifecycle?.onCommit(size);
    },
    onIndexError: (err) => reportLocalWrite(log, metrics, "metadata", err),
  });
  if (tiers.offload) {
    const o = config.offload;
    offloader = new Offloader({
      store,
      index: meta,
      policy: { minSize: o.minSize, minRequests: o.minRequests },
      interval: o.interval,
      concurrency: o.concurrency,
      metrics,
      log,
    });
  }
  const links = new RepoLinks(meta, log);
  // Aborted when shutdown gives up waiting: downloads stop and commit nothing.
  const aborter = new AbortController();
  // Every download listens to it: any number at once is normal, not a leak (Node warns past 10).
  setMaxListeners(0, aborter.signal);
  const inUse = new InUse();
  // Reaches the blob downloads through `blobs`, declared next: only called once requests come in.
  const stats: Stats = new Stats({
    meta,
    downloads: () => blobs.downloads(),
    upstreams: config.upstreams.map((u) => ({ registry: u.registry, url: u.url })),
    metrics,
    maxSize: config.cache.maxSize,
    // Active: any request in the range's days (per-user usage is kept by UTC day).
    users: config.auth.mode === "users" ? (since) => meta.users.userCounts(utcDay(since)) : undefined,
  });
  const blobs = new ProxyBlobStore({
    store,
    inUse,
    maxSize: config.cache.maxSize,
    links,
    meta,
    signal: aborter.signal,
    spoolDir,
    resumeAttempts: (registry) => upstreams.settings(registry).resumeAttempts,
    metrics,
    log,
    onUpstreamBytes: (n) => stats.upstreamBytes(n),
  });
  const manifests = new ProxyManifestStore({
    store,
    links,
    meta,
    tagTtl: (registry) => upstreams.settings(registry).tagTtl,
    staleAfter: config.cache.staleAfter,
    memoryBytes: MANIFEST_MEMORY_BYTES,
    metrics,
    log,
    onUpstreamBytes: (n) => stats.upstreamBytes(n),
  });
  // The filesystem driver's root ("/" of its paths), whose disk the free-space mark watches.
  const diskPath = tiers.primary.localFile?.("/blobs/x").replace(/\/blobs\/x$/, "");
  lifecycle = new Lifecycle({
    config,
    store,
    meta,
    blobs,
    manifests,
    upstreams,
    inUse,
    diskPath,
    storage: tiers.primary,
    tempDirs: [spoolDir, ...(diskPath ? [uploadsDir(diskPath)] : [])],
    links,
    metrics,
    log,
  });
  const services: Services = {
    blobs,
    manifests,
    tags: new ProxyTagStore(meta),
    meta,
    stats,
    upstreams,
    metrics,
    mayRedirect: redirectPolicy(config.storage.redirect.directUserAgents),
  };
  const users = await Users.open(config.auth, meta.users, data);
  const admin = adminApi(lifecycle, config.admin.token, [...ADMIN_ROUTES, ...users.adminRoutes()]);
  const server = createRegistryServer(
    services,
    log,
    { front: [admin, ...users.api()], auth: users.registryAuth() },
    config.limits,
    tls,
  );
  const connections = new ConnectionTracker(server);
  const url = await listenOn(server, config.listen, tls ? "https" : "http");
  let redirect: Server | undefined;
  let redirectUrl: string | undefined;
  if (config.tls.redirectListen) {
    redirect = createRedirectServer((server.address() as AddressInfo).port);
    redirectUrl = await listenOn(redirect, config.tls.redirectListen, "http");
  }
  offloader?.start();
  lifecycle.start();
  const flusher = setInterval(() => {
    meta.flush().catch((err: Error) => log.warn({ err: err.message }, "metadata flush failed"));
    stats.flush().catch((err: Error) => log.warn({ err: err.message }, "usage statistics flush failed"));
  }, FLUSH_INTERVAL_MS);
  flusher.unref();
  log.info(
    {
      url,
      redirectUrl,
      data,
      upstreams: config.upstreams.map((u) => `${u.registry}=${u.url}`),
      storage: tiers.primary.name,
      offload: tiers.offload?.name,
      auth: config.auth.mode,
    },
    "hubmirror listening",
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(flusher);
      redirect?.close();
      redirect?.closeAllConnections();
      // Background work (prefetch, eviction, GC) stops first: it must not start downloads while transfers drain.
      await lifecycle?.stop();
      // Done when every response is finished and every download has committed or failed.
      const closed = new Promise<void>((ok) => server.close(() => ok())).then(() => blobs.idle());
      connections.drain();
      const timedOut = await Promise.race([
        closed.then(() => false),
        sleep(config.shutdownTimeout, true, { ref: false }),
      ]);
      if (timedOut) {
        log.warn("shutdown timeout: aborting transfers still running");
        aborter.abort();
        server.closeAllConnections();
        await closed;
      }
      await offloader?.stop();
      await Promise.all([tiers.primary.close?.(), tiers.offload?.close?.()]);
      await upstreams.close().catch(() => {});
      await stats.flush().catch((err: Error) => log.warn({ err: err.message }, "usage statistics not saved"));
      await meta.close();
      log.info("hubmirror stopped");
    })();
    return closing;
  };
  const reloadTls = async () => {
    if (tls) return tls.reload();
    log.info("no TLS certificate to reload");
    return false;
  };
  return { server, url, redirectUrl, metrics, meta, lifecycle, users, log, reloadTls, close };
}
