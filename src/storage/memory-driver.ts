import { Readable } from "node:stream";
import { type FileInfo, type FileWriter, PathNotFoundError, type StorageDriver } from "./driver.js";

interface Entry {
  content: Buffer;
  modTime: Date;
}

/** Keeps everything in a Map: for tests and throwaway mirrors. Directories are implied by file paths. */
export class MemoryDriver implements StorageDriver {
  readonly name = "inmemory";
  private readonly files = new Map<string, Entry>();

  private isDir(path: string): boolean {
    const prefix = path === "/" ? "/" : `${path}/`;
    for (const key of this.files.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  private entry(path: string): Entry {
    const e = this.files.get(path);
    if (!e) throw new PathNotFoundError(this.name, path);
    return e;
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    const e = this.files.get(path);
    if (e) return { path, size: e.content.length, modTime: e.modTime, isDir: false };
    if (this.isDir(path)) return { path, size: 0, modTime: new Date(0), isDir: true };
    return undefined;
  }

  async reader(path: string, offset = 0, length?: number): Promise<Readable> {
    const { content } = this.entry(path);
    const end = length === undefined ? content.length : Math.min(content.length, offset + length);
    return Readable.from([content.subarray(Math.min(offset, content.length), end)]);
  }

  async getContent(path: string): Promise<Buffer> {
    return this.entry(path).content;
  }

  async putContent(path: string, content: Buffer): Promise<void> {
    this.files.set(path, { content: Buffer.from(content), modTime: new Date() });
  }

  async writer(path: string): Promise<FileWriter> {
    const chunks: Buffer[] = [];
    let size = 0;
    return {
      get size() {
        return size;
      },
      write: async (data) => {
        for (const chunk of Buffer.isBuffer(data) ? [data] : data) {
          chunks.push(Buffer.from(chunk));
          size += chunk.length;
        }
      },
      commit: async () => this.putContent(path, Buffer.concat(chunks)),
      cancel: async () => {
        chunks.length = 0;
      },
    };
  }

  async move(from: string, to: string): Promise<void> {
    const e = this.entry(from);
    this.files.delete(from);
    this.files.set(to, e);
  }

  async delete(path: string): Promise<void> {
    if (this.files.delete(path)) return;
    if (!this.isDir(path)) throw new PathNotFoundError(this.name, path);
    for (const key of [...this.files.keys()]) if (key.startsWith(`${path}/`)) this.files.delete(key);
  }

  async list(path: string): Promise<string[]> {
    if (!this.isDir(path)) throw new PathNotFoundError(this.name, path);
    const prefix = path === "/" ? "/" : `${path}/`;
    const children = new Set<string>();
    for (const key of this.files.keys()) {
      if (key.startsWith(prefix)) children.add(prefix + key.slice(prefix.length).split("/")[0]);
    }
    return [...children].sort();
  }

  async redirectURL(): Promise<string | undefined> {
    return undefined;
  }
}
