import type { Config } from "../config/schema.js";
import type { Metrics } from "../metrics/metrics.js";
import { BaseDriver } from "./base-driver.js";
import { type StorageDriver, StorageSetupError } from "./driver.js";
import { createFsDriver } from "./fs-driver.js";
import { MemoryDriver } from "./memory-driver.js";
import { CdnRedirect } from "./redirect/cdn-redirect.js";
import { hmacSha256Signer } from "./redirect/hmac-sha256.js";
import { nginxSecureLinkSigner } from "./redirect/nginx-secure-link.js";
import { PresignedRedirect } from "./redirect/presigned-redirect.js";
import { createS3Driver, type S3Driver } from "./s3-driver.js";
import { parseStorageUrl } from "./storage-url.js";

type Redirect = Config["storage"]["redirect"];

export interface StorageTiers {
  /** The cache. */
  primary: StorageDriver;
  /** Where blobs are copied to and clients redirected to, in tiered mode. */
  offload: StorageDriver | undefined;
}

const SIGNERS = { "nginx-secure-link": nginxSecureLinkSigner, "hmac-sha256": hmacSha256Signer };

interface Credentials {
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
}

/** A driver for a storage URL (see storage-url.ts), behind a redirect wrapper when `redirect` is given. */
async function openDriver(
  url: string,
  creds: Credentials,
  redirect: Redirect | undefined,
): Promise<StorageDriver> {
  try {
    return await openUnchecked(url, creds, redirect);
  } catch (err) {
    // The message names the endpoint and bucket (the S3 driver's), never the credentials.
    throw new StorageSetupError((err as Error).message, { cause: err });
  }
}

async function openUnchecked(
  url: string,
  creds: Credentials,
  redirect: Redirect | undefined,
): Promise<StorageDriver> {
  const spec = parseStorageUrl(url);
  let driver: StorageDriver;
  let s3: S3Driver | undefined;
  if (spec.kind === "memory") driver = new MemoryDriver();
  else if (spec.kind === "fs") driver = await createFsDriver(spec.root);
  else {
    const { kind: _, ...where } = spec;
    s3 = await createS3Driver({ ...where, ...withoutUndefined(creds) });
    driver = s3;
  }
  const expiresInSeconds = Math.ceil((redirect?.expiry ?? 0) / 1000);
  if (redirect?.mode === "cdn" && redirect.cdn) {
    const { baseUrl, signer, secret } = redirect.cdn;
    return new CdnRedirect(driver, { baseUrl, signer: SIGNERS[signer](secret), expiresInSeconds });
  }
  if (redirect?.mode === "presigned" && s3) {
    const signer = s3;
    return new PresignedRedirect(driver, (path, seconds) => signer.presign(path, seconds), expiresInSeconds);
  }
  return driver;
}

function withoutUndefined(c: Credentials): { accessKeyId?: string; secretAccessKey?: string } {
  return c.accessKeyId && c.secretAccessKey
    ? { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }
    : {};
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
    storage,
    offload.url ? undefined : redirect,
  );
  const target = offload.url ? await openDriver(offload.url, offload, redirect) : undefined;
  return {
    primary: new BaseDriver(primary, metrics),
    offload: target && new BaseDriver(target, metrics),
  };
}
