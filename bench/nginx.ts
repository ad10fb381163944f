// nginx serving one file with sendfile: the ceiling row (what the kernel can push over loopback from page cache).
import { basename, dirname } from "node:path";
import { startPrivateNginx } from "../test/fixtures/nginx.js";

export interface Nginx {
  /** URL of the file. */
  fileUrl: string;
  stop(): Promise<void>;
}

export async function startNginx(file: string, dir: string): Promise<Nginx> {
  const nginx = await startPrivateNginx(dir, {
    http: "sendfile on;\n  tcp_nopush on;",
    server: `root ${dirname(file)};`,
  });
  const fileUrl = `${nginx.url}/${basename(file)}`;
  const res = await fetch(fileUrl, { method: "HEAD" });
  if (!res.ok) {
    await nginx.stop();
    throw new Error(`nginx answers ${res.status} for ${fileUrl}`);
  }
  return { fileUrl, stop: nginx.stop };
}
