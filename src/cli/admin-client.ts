import { createInterface } from "node:readline";
import { type Command, Option } from "commander";
import { request } from "undici";
import { CommandError } from "./common.js";

export interface AdminOptions {
  server: string;
  token?: string | undefined;
}

/** --server and --token, for the commands that act on a running mirror through its admin API. */
export function withAdminOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--server <url>", "the running mirror (env HUBMIRROR_SERVER)")
        .env("HUBMIRROR_SERVER")
        .default("http://127.0.0.1:5000"),
    )
    .addOption(
      new Option("--token <token>", "admin token, needed from other hosts (env HUBMIRROR_ADMIN_TOKEN)").env(
        "HUBMIRROR_ADMIN_TOKEN",
      ),
    );
}

/** One line of a streamed answer: progress events, then `done` (the result) or `error`. */
export interface AdminEvent {
  type: string;
  [key: string]: unknown;
}

/** The admin API (`/admin/…`) of a running mirror, as the operator commands use it. */
export class AdminClient {
  private readonly base: string;

  constructor(private readonly o: AdminOptions) {
    this.base = o.server.replace(/\/+$/, "");
  }

  private async send(method: string, path: string, body?: unknown) {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.o.token) headers.authorization = `Bearer ${this.o.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      return await request(`${this.base}${path}`, {
        method: method as "GET",
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CommandError(
        `cannot reach the mirror at ${this.base}: ${(err as Error).message} (is it running? see --server)`,
      );
    }
  }

  private async fail(res: Awaited<ReturnType<typeof request>>): Promise<never> {
    const text = await res.body.text();
    let message = text.slice(0, 500);
    try {
      const e = JSON.parse(text) as { errors?: { message?: string }[] };
      message = e.errors?.map((x) => x.message).join("; ") || message;
    } catch {}
    throw new CommandError(`${this.base} answered ${res.statusCode}: ${message}`);
  }

  /** A request with a JSON answer. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    if (res.statusCode >= 300) return this.fail(res);
    return (await res.body.json()) as T;
  }

  /**
   * A request answered with JSON lines: each event goes to `onEvent` as it arrives; resolves with the final
   * `done` event, rejects with the `error` event's message.
   */
  async stream(
    method: string,
    path: string,
    body: unknown,
    onEvent: (e: AdminEvent) => void,
  ): Promise<AdminEvent> {
    const res = await this.send(method, path, body);
    if (res.statusCode >= 300) return this.fail(res);
    let last: AdminEvent | undefined;
    for await (const line of createInterface({ input: res.body, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (line.trim() === "") continue;
      last = JSON.parse(line) as AdminEvent;
      if (last.type === "error") throw new CommandError(String(last.message));
      onEvent(last);
    }
    if (last?.type !== "done")
      throw new CommandError(`${this.base} closed the answer before it was complete`);
    return last;
  }
}
