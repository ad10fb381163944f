import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client } from "@aws-sdk/client-s3";

export interface S3DriverOptions {
  bucket: string;
  /** Key prefix: the driver path `/a/b` is stored under the key `<prefix>/a/b` (`a/b` without one). */
  prefix?: string;
  /** e.g. `http://127.0.0.1:7480` for an S3-compatible server; AWS's own endpoint when omitted. */
  endpoint?: string;
  /** From the SDK's chain (AWS_REGION, profiles) when omitted. */
  region?: string;
  /** `endpoint/bucket/key` addressing, not `bucket.endpoint/key`; most S3-compatible servers need it. */
  forcePathStyle?: boolean;
  /** Static credentials; without them the SDK's chain applies (AWS_ACCESS_KEY_ID…, profiles, roles). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Multipart part size, at least 5 MiB (S3's minimum for all but the last part). Default 8 MiB. */
  partSize?: number;
  /** Part buffers per writer (one filling while the others upload): its memory bound. Default 2. */
  partsInFlight?: number;
}

/** Sockets per client: every open reader holds one until its body is consumed. */
const MAX_SOCKETS = 128;

export function createS3Client(o: S3DriverOptions): S3Client {
  if (!o.accessKeyId !== !o.secretAccessKey) {
    throw new Error(`s3 storage: give both accessKeyId and secretAccessKey, or neither (bucket ${o.bucket})`);
  }
  const agent = { keepAlive: true, maxSockets: MAX_SOCKETS };
  return new S3Client({
    endpoint: o.endpoint,
    region: o.region,
    forcePathStyle: o.forcePathStyle,
    credentials:
      o.accessKeyId && o.secretAccessKey
        ? { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey }
        : undefined,
    // The SDK's default CRC32 on every upload (since 3.729) broke S3-compatible servers such as R2 and B2
    // (aws-sdk-js-v3#6810) and costs a pass over every byte; content is verified by digest above this layer.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: {
      httpAgent: new HttpAgent(agent),
      httpsAgent: new HttpsAgent(agent),
      connectionTimeout: 5_000,
      // Inactivity, not total time: a stalled backend fails the operation instead of hanging it.
      socketTimeout: 60_000,
    },
  });
}

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

export function httpStatus(err: unknown): number | undefined {
  return (err as SdkError)?.$metadata?.httpStatusCode;
}

/** A missing key; a missing bucket (NoSuchBucket) is a configuration error, never a miss. */
export function isMissingKey(err: unknown): boolean {
  const name = (err as SdkError)?.name;
  return name === "NoSuchKey" || (name === "NotFound" && httpStatus(err) === 404);
}

/** The SDK's error in one line: name, HTTP status, message (error bodies often say only "UnknownError"). */
export function describeError(err: unknown): string {
  const e = err as SdkError;
  const status = httpStatus(err);
  const parts = [e?.name ?? "Error", status && `HTTP ${status}`, e?.code, e?.message].filter(Boolean);
  return [...new Set(parts)].join(": ");
}
