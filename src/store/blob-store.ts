import type { BlobIndex, BlobRecord } from "../metadata/store.js";
import type { Digest } from "../reference/reference.js";
import { type FileWriter, PathNotFoundError, type StorageDriver } from "../storage/driver.js";
import { blobPath } from "./layout.js";
import { type RangeRequest, sendFileRange, sendStream } from "./send-range.js";

/** Where content lives when the storage driver holds it (an offload target will be another location). */
export const LOCAL = "local";

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
 * The local, content-addressed store under the proxy (Distribution's split: the proxy wraps a local store that
 * owns layout and redirects; the driver only knows paths). It keeps an index of what is stored, so a hit costs an
 * index lookup, not a driver stat (a HEAD request on object storage); records use; and deletes, for eviction and
 * GC. Blobs and manifests alike live here, by digest, shared by every repository and upstream.
 */
export class LocalBlobStore {
  constructor(
    private readonly driver: StorageDriver,
    private readonly index: BlobIndex,
  ) {}

  get driverName(): string {
    return this.driver.name;
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
    const st = await this.driver.stat(blobPath(digest));
    if (!st || st.isDir) return undefined;
    await this.index.putBlob(digest, st.size, LOCAL);
    return this.index.getBlob(digest);
  }

  /** A URL to send the client to instead of serving the bytes, when the storage has one. */
  redirectURL(digest: Digest): Promise<string | undefined> {
    return this.driver.redirectURL(blobPath(digest));
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
      throw missing(err) ? await this.vanished(digest) : err;
    }
  }

  /** Small content (a manifest) whole. Throws BlobVanishedError when the bytes are gone. */
  async get(digest: Digest): Promise<Buffer> {
    try {
      return await this.driver.getContent(blobPath(digest));
    } catch (err) {
      throw missing(err) ? await this.vanished(digest) : err;
    }
  }

  /** Stores small content whole; the caller has verified it. Bytes first, then the index. */
  async put(digest: Digest, content: Buffer): Promise<void> {
    await this.driver.putContent(blobPath(digest), content);
    await this.index.putBlob(digest, content.length, LOCAL);
  }

  /** A writer for verified-while-written content: visible, and indexed, only on commit. */
  async writer(digest: Digest): Promise<FileWriter> {
    const w = await this.driver.writer(blobPath(digest));
    const index = this.index;
    return {
      write: (data) => w.write(data),
      get size() {
        return w.size;
      },
      localPath: w.localPath,
      async commit() {
        await w.commit();
        await index.putBlob(digest, w.size, LOCAL);
      },
      cancel: () => w.cancel(),
    };
  }

  /**
   * Removes content: the index entry first, so no new request finds it, then the bytes. Readers that already
   * opened it keep reading (a local file stays readable after unlink).
   */
  async delete(digest: Digest): Promise<void> {
    await this.index.deleteBlob(digest);
    await this.driver.delete(blobPath(digest)).catch((err: unknown) => {
      if (!missing(err)) throw err;
    });
  }

  private async vanished(digest: Digest): Promise<BlobVanishedError> {
    await this.index.deleteBlob(digest);
    return new BlobVanishedError(digest);
  }
}
