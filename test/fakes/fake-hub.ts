import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { sha256Digest } from "../helpers.js";

/** A fault injected into the next matching upstream answers (a seam, not monkey-patching). */
export type Fault =
  | { kind: "status"; status: number; headers?: Record<string, string> }
  | { kind: "truncate"; afterBytes: number }
  | { kind: "corrupt"; atByte: number }
  | { kind: "stall"; afterBytes: number }
  | { kind: "extra"; bytes: number }
  | { kind: "delay"; ms: number }
  | { kind: "drop" };

export interface FaultRule {
  /** Matches request paths (registry or CDN). */
  path: RegExp;
  method?: string;
  fault: Fault;
  /** How many requests it applies to (default: every one). */
  times?: number;
}

export interface HubRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  range: string | undefined;
  cdn: boolean;
}

interface StoredManifest {
  body: Buffer;
  mediaType: string;
  digest: string;
}

/**
 * An in-process stand-in for Docker Hub for fast unit tests: bearer-token challenge, blobs answered with a 307
 * to a "CDN" path that must be fetched without credentials, rate-limit headers, and injectable faults.
 */
export class FakeHub {
  readonly requests: HubRequest[] = [];
  readonly tokenRequests: { query: string; authorization: string | undefined }[] = [];
  /** Bytes per second for blob bodies (0 = as fast as possible), so late joiners can join mid-download. */
  throttle = 0;
  rateLimitRemaining = 100;
  private readonly blobs = new Map<string, Buffer>();
  /** Repositories a blob is in, when not in all of them. */
  private readonly blobRepos = new Map<string, Set<string>>();
  private readonly manifests = new Map<string, StoredManifest>();
  private readonly faults: FaultRule[] = [];
  private readonly servers: Server[] = [];
  url = "";
  /** The CDN is another origin, as production.cloudflare.docker.com is. */
  cdnUrl = "";

  async start(): Promise<this> {
    this.url = await this.listen();
    this.cdnUrl = await this.listen();
    return this;
  }

  private async listen(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy());
    });
    this.servers.push(server);
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const server of this.servers) {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
  }

  /** Adds a blob to the given repositories, or to every one. */
  addBlob(content: Buffer, repos?: string[]): string {
    const digest = sha256Digest(content);
    this.blobs.set(digest, content);
    if (repos) this.blobRepos.set(digest, new Set(repos));
    return digest;
  }

  /** Stores a manifest under its digest and, if given, a tag. */
  addManifest(repo: string, body: Buffer | object, mediaType: string, tag?: string): string {
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const m = { body: buf, mediaType, digest: sha256Digest(buf) };
    this.manifests.set(`${repo}@${m.digest}`, m);
    if (tag) this.manifests.set(`${repo}:${tag}`, m);
    return m.digest;
  }

  inject(rule: FaultRule): void {
    this.faults.push(rule);
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  count(method: string, path: RegExp, cdn?: boolean): number {
    return this.requests.filter(
      (r) => r.method === method && path.test(r.path) && (cdn === undefined || r.cdn === cdn),
    ).length;
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const i = this.faults.findIndex((f) => f.path.test(path) && (!f.method || f.method === method));
    const rule = this.faults[i];
    if (!rule) return undefined;
    if (rule.times !== undefined && --rule.times <= 0) this.faults.splice(i, 1);
    return rule.fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const method = req.method ?? "GET";
    if (url.pathname === "/token") {
      this.tokenRequests.push({ query: url.search, authorization: req.headers.authorization });
      const fault = this.takeFault(method, url.pathname);
      if (fault?.kind === "status") return this.fail(res, fault.status, fault.headers);
      const scope = url.searchParams.get("scope") ?? "";
      return this.json(res, 200, {
        token: `tok:${scope}`,
        expires_in: 300,
        issued_at: new Date().toISOString(),
      });
    }
    const cdn = url.pathname.startsWith("/cdn/");
    const record = () =>
      this.requests.push({
        method,
        path: url.pathname,
        authorization: req.headers.authorization,
        range: req.headers.range,
        cdn,
      });
    if (cdn) record();
    const fault = this.takeFault(method, url.pathname);
    if (fault?.kind === "delay") await sleep(fault.ms);
    if (fault?.kind === "drop") return void res.destroy();
    if (fault?.kind === "status") return this.fail(res, fault.status, fault.headers);
    if (cdn) return this.serveCdn(req, res, url, fault);

    const m = /^\/v2\/(.+?)\/(manifests|blobs|tags)\/(.+)$/.exec(url.pathname);
    if (url.pathname === "/v2/" || m) {
      const repo = m?.[1] ?? "";
      // Like auth.docker.io: a token names its scope; without one the registry challenges.
      if (req.headers.authorization !== `Bearer tok:repository:${repo}:pull` && url.pathname !== "/v2/") {
        res.setHeader(
          "WWW-Authenticate",
          `Bearer realm="${this.url}/token",service="fake-hub",scope="repository:${repo}:pull"`,
        );
        return this.json(res, 401, {
          errors: [{ code: "UNAUTHORIZED", message: "authentication required" }],
        });
      }
    }
    // Only authorized registry requests are recorded: the 401 of the token dance is not a real fetch.
    if (!cdn) record();
    if (url.pathname === "/v2/") return this.json(res, 200, {});
    if (!m) return this.json(res, 404, { errors: [{ code: "NOT_FOUND" }] });
    const [, repo, kind, ref] = m;
    if (kind === "tags") return this.serveTags(res, repo as string, url);
    if (kind === "blobs") {
      const repos = this.blobRepos.get(ref as string);
      if (!this.blobs.has(ref as string) || (repos && !repos.has(repo as string))) {
        return this.json(res, 404, { errors: [{ code: "BLOB_UNKNOWN" }] });
      }
      if (method === "HEAD") {
        res.writeHead(200, { "Content-Length": this.blobs.get(ref as string)?.length });
        return void res.end();
      }
      res.writeHead(307, { Location: `${this.cdnUrl}/cdn/${ref}?verify=signed`, "Content-Length": 0 });
      return void res.end();
    }
    const stored = this.manifests.get(`${repo}${(ref as string).includes(":") ? "@" : ":"}${ref}`);
    if (!stored) return this.json(res, 404, { errors: [{ code: "MANIFEST_UNKNOWN" }] });
    // Docker Hub counts manifest GETs against the pull quota; HEAD is free.
    if (method === "GET") this.rateLimitRemaining--;
    res.writeHead(200, {
      "Content-Type": stored.mediaType,
      "Content-Length": stored.body.length,
      "Docker-Content-Digest": stored.digest,
      "ratelimit-limit": "100;w=21600",
      "ratelimit-remaining": `${this.rateLimitRemaining};w=21600`,
    });
    res.end(method === "HEAD" ? undefined : stored.body);
  }

  private serveTags(res: ServerResponse, repo: string, url: URL): void {
    const tags = [...this.manifests.keys()]
      .filter((k) => k.startsWith(`${repo}:`))
      .map((k) => k.slice(repo.length + 1))
      .sort();
    const last = url.searchParams.get("last");
    const n = Number(url.searchParams.get("n") ?? tags.length);
    const page = tags.filter((t) => !last || t > last).slice(0, n);
    if (tags.length === 0) this.json(res, 404, { errors: [{ code: "NAME_UNKNOWN" }] });
    else this.json(res, 200, { name: repo, tags: page });
  }

  private async serveCdn(req: IncomingMessage, res: ServerResponse, url: URL, fault: Fault | undefined) {
    if (req.headers.authorization) return this.fail(res, 400, {}, "credentials must not reach the CDN");
    if (url.searchParams.get("verify") !== "signed") return this.fail(res, 403);
    const blob = this.blobs.get(url.pathname.slice("/cdn/".length));
    if (!blob) return this.fail(res, 404);
    let body = blob;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (range) start = Number(range[1]);
    if (fault?.kind === "corrupt") {
      body = Buffer.from(blob);
      body[fault.atByte] = (body[fault.atByte] ?? 0) ^ 0xff;
    }
    const length = body.length - start + (fault?.kind === "extra" ? fault.bytes : 0);
    res.writeHead(range ? 206 : 200, {
      "Content-Length": length,
      ...(range ? { "Content-Range": `bytes ${start}-${blob.length - 1}/${blob.length}` } : {}),
    });
    const payload =
      fault?.kind === "extra"
        ? Buffer.concat([body.subarray(start), Buffer.alloc(fault.bytes)])
        : body.subarray(start);
    const cut = fault?.kind === "truncate" || fault?.kind === "stall" ? fault.afterBytes : payload.length;
    await this.send(res, payload.subarray(0, cut));
    if (fault?.kind === "truncate") return void res.destroy();
    if (fault?.kind === "stall") return; // never finishes: the client's idle timeout must fire
    res.end();
  }

  private async send(res: ServerResponse, data: Buffer): Promise<void> {
    const chunk = 64 << 10;
    for (let i = 0; i < data.length; i += chunk) {
      if (res.destroyed) return;
      if (!res.write(data.subarray(i, i + chunk))) {
        await new Promise<void>((ok) => {
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            ok();
          };
          res.once("drain", done);
          res.once("close", done);
        });
      }
      if (this.throttle) await sleep((chunk / this.throttle) * 1000);
    }
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const buf = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": buf.length });
    res.end(buf);
  }

  private fail(res: ServerResponse, status: number, headers: Record<string, string> = {}, message = "fault") {
    res.writeHead(status, headers);
    res.end(message);
  }
}
