// What a blob fill is given, and the errors it throws that its callers tell apart.
import { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { Digest } from "../reference/reference.js";
import type { FileWriter } from "../storage/driver.js";
import type { BlobBody } from "../upstream/upstream.js";

export interface FillOptions {
  digest: Digest;
  /** Where the verified bytes go: visible only on commit. */
  writer: () => Promise<FileWriter>;
  spoolDir: string;
  /** Opens the upstream body at an offset; called again to resume after an interruption. */
  open: (offset: number) => Promise<BlobBody>;
  resumeAttempts: number;
  log: Logger;
  onResume: () => void;
  onBytes: (n: number) => void;
  /** Aborts the download (shutdown): nothing is committed. */
  signal?: AbortSignal | undefined;
  /**
   * False for a blob to stream to its clients without keeping it (larger than the whole cache), asked once
   * upstream told the size; nothing is written then.
   */
  keep?: ((size: number) => boolean) | undefined;
  /**
   * Told, once, that caching stopped because a local write failed or the disk has too little room: the download
   * goes on as a pass-through to the clients reading it.
   */
  onDegraded?: ((why: Error) => void) | undefined;
}

/** Upstream sent bytes that don't match the digest, or more or other than it announced. Never resumed. */
export class BlobMismatchError extends RegistryError {
  constructor(message: string) {
    // The upstream is at fault, not the client: 502, never a 4xx a client would take as final.
    super("UPSTREAM_ERROR", message);
  }
}

/** A pass-through download nobody read for ABANDON_MS: it keeps nothing, so it stops. Never resumed. */
export class FillAbandonedError extends Error {
  override name = "FillAbandonedError";
}

/**
 * A reader can't follow this download from where it starts: a pass-through has dropped the bytes it needs, or is
 * over. Thrown before the reader begins, so that its caller can fetch the blob another way.
 */
export class FillGapError extends Error {
  override name = "FillGapError";
}

const RESUMABLE_CODES = new Set(["UPSTREAM_UNAVAILABLE", "UPSTREAM_ERROR", "TOOMANYREQUESTS"]);

/** Whether an interrupted download may be resumed upstream after `err`: never for what upstream can't mend. */
export function resumable(err: unknown): boolean {
  if (err instanceof BlobMismatchError || err instanceof FillAbandonedError) return false;
  return !(err instanceof RegistryError) || RESUMABLE_CODES.has(err.code);
}
