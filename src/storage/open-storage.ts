import type { Config } from "../config/schema.js";
import type { Metrics } from "../metrics/metrics.js";
import { BaseDriver } from "./base-driver.js";
import type { StorageDriver } from "./driver.js";
import { createFsDriver } from "./fs-driver.js";
import { MemoryDriver } from "./memory-driver.js";
import { CdnRedirect } from "./redirect/cdn-redirect.js";
import { hmacSha256Signer } from "./redirect/hmac-sha256.js";
import { nginxSecureLinkSigner } from "./redirect/nginx-secure-link.js";
import { parseStorageUrl } from "./storage-url.js";

type Redirect = Config["storage"]["redirect"];

export interface StorageTiers {
  /** The cache. */
  primary: StorageDriver;
  /** Where blobs are copied to and clients redirected to, in tiered mode. */
  offload: StorageDriver | undefined;
}

const SIGNERS = { "nginx-secure-link": nginxSecureLinkSigner, "hmac-sha256": hmacSha256Signer };

/** A driver for a storage URL (see storage-url.ts), behind a redirect wrapper when `redirect` is given. */
async function openDriver(url: string, redirect: Redirect | undefined): Promise<StorageDriver> {
  const spec = parseStorageUrl(url);
  let driver: StorageDriver;
  if (spec.kind === "memory") driver = new MemoryDriver();
  else if (spec.kind === "fs") driver = await createFsDriver(spec.root);
  else throw new Error(`${url}: object storage is not supported yet`);
  const expiresInSeconds = Math.ceil((redirect?.expiry ?? 0) / 1000);
  if (redirect?.mode === "cdn" && redirect.cdn) {
    const { baseUrl, signer, secret } = redirect.cdn;
    return new CdnRedirect(driver, { baseUrl, signer: SIGNERS[signer](secret), expiresInSeconds });
  }
  return driver;
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
