// The s3 scenario's world: one radosgw (test/fixtures/radosgw.ts), a bucket per mirror, and in front of the bench's
// upstream registry:2 with its s3 driver (redirects on, its default) and hubmirror with `--storage s3://…
// --redirect presigned`: both caches in object storage, warm GETs answered with a 307 to a presigned URL.
import { join } from "node:path";
import { makeBlobImage, pushImage, type TestImage } from "../test/fixtures/images.js";
import { createBucket, deleteBucket, type Radosgw, startRadosgw } from "../test/fixtures/radosgw.js";
import { startUpstreamRegistry } from "../test/fixtures/upstream-registry.js";
import { type Env, type Mirror, WARMUP_BLOB, warmUp } from "./env.js";
import { startHubmirror } from "./hubmirror.js";
import { findPid } from "./measure.js";
import type { Options } from "./options.js";

const GiB = 2 ** 30;
const BUCKETS = { hubmirror: "bench-hubmirror", "registry:2": "bench-registry" } as const;

export interface S3Env {
  rgw: Radosgw;
  /** hubmirror first, as Env's. */
  mirrors: [Mirror, Mirror];
  /** One image per round for the cold row, then one per fill client; all uncached in both buckets. */
  cold: TestImage[];
  fill: TestImage[];
  hubmirrorWarnings(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * The bluestore file (sparse) must hold every blob twice for registry:2 — it uploads under _uploads/ and
 * commits by a server-side copy, and radosgw frees the original only at its garbage collection, hours later —
 * and once for hubmirror (multipart straight to the final key), plus room for Ceph's own metadata.
 */
function blockSize(blobs: number, size: number): number {
  return Math.max(8 * GiB, Math.ceil((3 * blobs * size + 4 * GiB) / GiB) * GiB);
}

export async function startS3Env(env: Env, opts: Options, log: (msg: string) => void): Promise<S3Env> {
  // Sizes step by 512 bytes (tar alignment) from opts.s3Blob, which no other scenario uses: cold in both caches.
  const sizes = Array.from({ length: opts.rounds + opts.s3FillClients }, (_, i) => opts.s3Blob + i * 512);
  const images: TestImage[] = [];
  for (const size of sizes) images.push(await makeBlobImage(size));
  log(`pushing ${images.length} images for the s3 rows to the upstream`);
  for (const img of images) await pushImage(env.upstream.url, img.repo, img.tag, img);

  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch((err) => log(`s3 cleanup: ${err}`));
  };
  try {
    const rgw = await startRadosgw({ blockSize: blockSize(sizes.length, opts.s3Blob) });
    cleanups.push(() => rgw.stop());
    const urls: Record<Mirror["name"], string> = {
      hubmirror: await createBucket(rgw, BUCKETS.hubmirror),
      "registry:2": await createBucket(rgw, BUCKETS["registry:2"]),
    };
    for (const bucket of Object.values(BUCKETS)) cleanups.push(() => deleteBucket(rgw, bucket));
    log(`radosgw on ${rgw.endpoint}, buckets ${Object.values(BUCKETS).join(", ")}`);

    const reg = await startUpstreamRegistry({
      proxy: { remoteurl: env.upstream.url },
      storage: {
        // Distribution 2.8's s3-aws driver: with regionendpoint it uses path-style requests and does not check
        // the region name (it has no forcepathstyle option); SigV4 as radosgw wants.
        s3: {
          region: rgw.region,
          regionendpoint: rgw.endpoint,
          bucket: BUCKETS["registry:2"],
          accesskey: rgw.accessKeyId,
          secretkey: rgw.secretAccessKey,
          secure: false,
          v4auth: true,
        },
        redirect: { disable: false }, // the default, spelled out: GETs of stored blobs answer 307
      },
    });
    cleanups.push(() => reg.stop());
    const hub = await startHubmirror({
      ...env.hubmirrorBuild,
      upstream: env.upstream.url,
      data: join(env.work, "hub-s3", "data"), // the spool of blobs still downloading
      args: ["--storage", urls.hubmirror, "--redirect", "presigned"],
      env: { AWS_ACCESS_KEY_ID: rgw.accessKeyId, AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey },
    });
    cleanups.push(() => hub.stop());
    const mirrors: [Mirror, Mirror] = [
      { name: "hubmirror", url: hub.url, pid: hub.pid },
      { name: "registry:2", url: reg.url, pid: findPid(join(reg.dir, "config.yml")) },
    ];
    const warmup = await makeBlobImage(WARMUP_BLOB); // as Env's mirrors: not the process's first request
    for (const m of mirrors) await warmUp(m, warmup);
    return {
      rgw,
      mirrors,
      cold: images.slice(0, opts.rounds),
      fill: images.slice(opts.rounds),
      hubmirrorWarnings: () => hub.warnings(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
