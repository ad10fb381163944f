import { createHash } from "node:crypto";
import { addAbortSignal } from "node:stream";
import { LRUCache } from "lru-cache";
import { localWriteKind } from "../errors/local-write.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { BlobIndex, BlobRecord } from "../metadata/store.js";
import { type Digest, digestAlgorithm } from "../reference/reference.js";
import { type FileWriter, PathNotFoundError, type StorageDriver } from "../storage/driver.js";
import { hashFile, hashStream, type OnBytes } from "./hash-content.js";
import { blobPath } from "./layout.js";
import { type RangeRequest, sendFileRange, sendStream } from "./send-range.js";

/** How long a redirect target's copy, once confirmed present, is trusted without asking storage again. */
const CONFIRMED_MS = 10_000;

export interface LocalBlobStoreOptions {
  /** The cache: every committed blob is here. */
  primary: StorageDriver;
  index: BlobIndex;
  /** Object storage that blobs are copied to, and clients redirected to, once the index says they are there. */
  offload?: StorageDriver | undefined;
  /** Told when a blob is committed (the offload worker wakes up). */
  onCommit?: ((digest: Digest, size: number) => void) | undefined;
  /** Told when the index could not record found content (a full disk): the content is served all the same. */
  onIndexError?: ((err: Error) => void) | undefined;
}

/**
 * The index named content the driver no longer has (deleted behind our back, evicted by another node). The index
 * entry is gone once this is thrown, so the caller can treat the content as a miss and fetch it again.
 */
export class BlobVanishedError extends Error {
  constructor(readonly digest: Digest) {
    super(`stored content ${digest} has vanished from storage`);
    this.name = "BlobVanishedError";
  }
}

function missing(err: unknown): boolean {
  return err instanceof PathNotFoundError || (err as NodeJS.ErrnoException).code === "ENOENT";
}

/**
 * A storage failure (object storage down, a timeout) as the client sees it: 503, without the bucket or paths of
 * the driver's message, which stays on the error (`cause`) for the log.
 */
function unavailable(err: unknown): unknown {
  if (err instanceof RegistryError) return err;
  const e = new RegistryError("STORAGE_UNAVAILABLE", "storage unavailable, try again later", undefined, {
    "Retry-After": "10",
  });
  e.cause = err;
  return e;
}

/**
 * The local, content-addressed store under the proxy (Distribution's split: the proxy wraps a local store that
 * owns layout and redirects; the driver only knows paths). It keeps an index of what is stored, so a hit costs an
 * index lookup, not a driver stat (a HEAD request on object storage); records use; and deletes, for eviction and
 * GC. Blobs and manifests alike live here, by digest, shared by every repository and upstream.
 */
export class LocalBlobStore {
  private readonly driver: StorageDriver;
  private readonly index: BlobIndex;
  private readonly offload: StorageDriver | undefined;
  private readonly onCommit: (digest: Digest, size: number) => void;
  private readonly onIndexError: (err: Error) => void;
  /** Redirect targets recently confirmed to hold a digest's bytes. */
  private readonly confirmed = new LRUCache<string, true>({ max: 10_000, ttl: CONFIRMED_MS });

  constructor(o: LocalBlobStoreOptions) {
    this.driver = o.primary;
    this.index = o.index;
    this.offload = o.offload;
    this.onCommit = o.onCommit ?? (() => {});
    this.onIndexError = o.onIndexError ?? (() => {});
  }

  /** What the index says is stored; never touches the driver. */
  stat(digest: Digest): Promise<BlobRecord | undefined> {
    return this.index.getBlob(digest);
  }

  /** Records a use (GET or HEAD), for LRU eviction; batched by the index. */
  touch(digest: Digest): void {
    this.index.recordAccess(digest, Date.now());
  }

  /**
   * Asks the driver about content the index lacks (a crash between commit and index write, or a store from an
   * earlier version) and indexes it when it is there. For misses only, which are about to go upstream anyway.
   */
  async recover(digest: Digest): Promise<BlobRecord | undefined> {
    const st = await this.driver.stat(blobPath(digest)).catch((err: unknown) => {
      throw unavailable(err);
    });
    if (!st || st.isDir) return undefined;
    try {
      await this.index.putBlob(digest, st.size, "blob");
    } catch (err) {
      if (!localWriteKind(err)) throw err;
      this.onIndexError(err as Error);
      // Served as found; a later request indexes it once the database takes writes again.
      return { digest, size: st.size, kind: "blob", location: "local", lastAccess: Date.now(), requests: 0 };
    }
    return this.index.getBlob(digest);
  }

  /**
   * A URL to send the client to instead of serving the bytes: the offload target's once the blob is there, else
   * the primary storage's when it has one (a presigned S3 URL), else undefined. A client sent to a URL that 404s
   * would fail its pull, so the target is asked (a stat) whether it still has the bytes, at most once per
   * CONFIRMED_MS per blob: a blob deleted behind our back is fetched again, or served from the primary copy.
   */
  async redirectURL(rec: BlobRecord): Promise<string | undefined> {
    const path = blobPath(rec.digest);
    const offloaded = rec.location === "offloaded" && this.offload !== undefined;
    const target = offloaded ? (this.offload as StorageDriver) : this.driver;
    const url = await target.redirectURL(path);
    if (!url) return undefined;
    const key = `${offloaded ? "offload" : "primary"}:${rec.digest}`;
    if (this.confirmed.has(key)) return url;
    if (await target.stat(path)) {
      this.confirmed.set(key, true);
      return url;
    }
    if (!offloaded) throw await this.vanished(rec.digest);
    // The offloaded copy is gone: serve the primary one, and let the offload worker copy it again.
    await this.index.setLocation(rec.digest, "local");
    return undefined;
  }

  /**
   * Sends a range of stored content into the sink: from the driver's local file with reused buffers when it has
   * one, else as a stream. Throws BlobVanishedError, before `begin`, when the bytes are gone.
   */
  async send(digest: Digest, r: RangeRequest): Promise<void> {
    const path = blobPath(digest);
    const file = this.driver.localFile?.(path);
    try {
      if (file) await sendFileRange(file, r);
      else await sendStream(() => this.driver.reader(path, r.start, r.length), r);
    } catch (err) {
      throw missing(err) ? await this.vanished(digest) : unavailable(err);
    }
  }

  /**
   * Re-hashes stored bytes with the digest's algorithm (verify): what they hash to and their length, or undefined
   * when they are gone. Reads the driver's local file with reused buffers when it has one, else a stream. Leaves
   * the index alone (verify decides what to do about what it finds), and storage errors as they are, for the
   * operator to read.
   */
  async hash(
    digest: Digest,
    onBytes: OnBytes = () => {},
    signal?: AbortSignal,
  ): Promise<{ digest: Digest; size: number } | undefined> {
    const path = blobPath(digest);
    const file = this.driver.localFile?.(path);
    const algorithm = digestAlgorithm(digest);
    const hash = createHash(algorithm);
    try {
      const size = file
        ? await hashFile(file, hash, onBytes, signal)
        : await hashStream(await this.driver.reader(path), hash, onBytes, signal);
      return { digest: `${algorithm}:${hash.digest("hex")}`, size };
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
  }

  /** Small content (a manifest) whole. Throws BlobVanishedError when the bytes are gone. */
  async get(digest: Digest): Promise<Buffer> {
    try {
      return await this.driver.getContent(blobPath(digest));
    } catch (err) {
      throw missing(err) ? await this.vanished(digest) : unavailable(err);
    }
  }

  /** Stores a manifest whole; the caller has verified it. Bytes first, then the index. */
  async put(digest: Digest, content: Buffer): Promise<void> {
    await this.driver.putContent(blobPath(digest), content);
    await this.index.putBlob(digest, content.length, "manifest");
  }

  /** A writer for verified-while-written content: visible, and indexed, only on commit. */
  async writer(digest: Digest): Promise<FileWriter> {
    const w = await this.driver.writer(blobPath(digest));
    const { index, onCommit } = this;
    return {
      write: (data) => w.write(data),
      get size() {
        return w.size;
      },
      localPath: w.localPath,
      async commit() {
        await w.commit();
        await index.putBlob(digest, w.size, "blob");
        onCommit(digest, w.size);
      },
      cancel: () => w.cancel(),
    };
  }

  /**
   * Copies a committed blob to the offload target (streamed, never whole in memory) and records it there: from
   * then on clients are redirected to it. Visible there only once complete, as every driver's writer is.
   */
  async copyToOffload(digest: Digest, signal?: AbortSignal): Promise<void> {
    if (!this.offload) throw new Error("no offload target is configured");
    const path = blobPath(digest);
    const source = await this.driver.reader(path);
    if (signal) addAbortSignal(signal, source);
    const w = await this.offload.writer(path);
    try {
      for await (const chunk of source) await w.write(chunk as Buffer);
      await w.commit();
    } catch (err) {
      source.destroy();
      await w.cancel().catch(() => {});
      throw missing(err) ? await this.vanished(digest) : err;
    }
    await this.index.setLocation(digest, "offloaded");
  }

  /**
   * Removes content: the index entry first, so no new request finds it, then the bytes, from every tier. Readers
   * that already opened it keep reading (a local file stays readable after unlink).
   */
  async delete(digest: Digest): Promise<void> {
    await this.index.deleteBlob(digest);
    for (const d of this.offload ? [this.driver, this.offload] : [this.driver]) {
      await d.delete(blobPath(digest)).catch((err: unknown) => {
        if (!missing(err)) throw err;
      });
    }
  }

  private async vanished(digest: Digest): Promise<BlobVanishedError> {
    await this.index.deleteBlob(digest);
    return new BlobVanishedError(digest);
  }
}
