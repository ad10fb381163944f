import type { Config } from "../config/schema.js";
import type { Metrics } from "../metrics/metrics.js";
import { BaseDriver } from "./base-driver.js";
import type { StorageDriver } from "./driver.js";
import { createFsDriver } from "./fs-driver.js";
import { MemoryDriver } from "./memory-driver.js";
import { parseStorageUrl } from "./storage-url.js";

type Redirect = Config["storage"]["redirect"];

export interface StorageTiers {
  /** The cache. */
  primary: StorageDriver;
  /** Where blobs are copied to and clients redirected to, in tiered mode. */
  offload: StorageDriver | undefined;
}

/** A driver for a storage URL (see storage-url.ts), with redirects when `redirect` is given. */
async function openDriver(url: string, redirect: Redirect | undefined): Promise<StorageDriver> {
  const spec = parseStorageUrl(url);
  if (spec.kind === "memory") return new MemoryDriver();
  if (spec.kind === "fs") return createFsDriver(spec.root);
  void redirect;
  throw new Error(`${url}: object storage is not supported yet`);
}

/**
 * Opens the storage tiers the config names, each behind the validating, timing base wrapper. Redirects apply to
 * the tier clients are sent to: the offload target in tiered mode, else the primary storage.
 */
export async function openStorage(config: Config, dataDir: string, metrics: Metrics): Promise<StorageTiers> {
  const { storage, offload } = config;
  const redirect = storage.redirect.mode === "off" ? undefined : storage.redirect;
  const primary = await openDriver(
    storage.url ?? `fs://${dataDir}/storage`,
    offload.url ? undefined : redirect,
  );
  const target = offload.url ? await openDriver(offload.url, redirect) : undefined;
  return {
    primary: new BaseDriver(primary, metrics),
    offload: target && new BaseDriver(target, metrics),
  };
}
