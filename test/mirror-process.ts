// hubmirror as a real child process (`node --import tsx src/cli.ts serve`), for tests that kill it or drive it
// with real clients. It listens on an ephemeral port of 127.0.0.1, learnt from its "hubmirror listening" log line.
// For fast tests, test/fakes/mirror.ts starts it in-process instead (startInProcessMirror).
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { stringify } from "yaml";
import type { ConfigInput } from "../src/config/schema.js";
import { removeTree, tempDir } from "./clients/proc.js";
import { fillsSettled } from "./helpers.js";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_LINES = 40;

export interface MirrorOptions {
  /** Upstream registry base URL, e.g. http://127.0.0.1:5001. */
  upstream: string;
  /** Data directory; kept across restarts. */
  data: string;
  /** A YAML config file (`--config`); flags above still win. */
  config?: string;
  /** HOST:PORT to listen on; 127.0.0.1:0 by default. */
  listen?: string;
  /** More `serve` flags, e.g. `--tls-cert FILE`. */
  args?: readonly string[];
  /** The CAs (PEM) that the mirror's HTTPS certificate is checked with, for the test's own requests to it. */
  ca?: Buffer[];
}

/** `name{a="b",…} value` lines of a Prometheus text exposition: the sum of the series that carry `labels`. */
function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export class MirrorProcess {
  /** Where the running instance answers; changes on every start. */
  url = "";
  private child: ChildProcess | undefined;
  private exit: Promise<unknown> = Promise.resolve();
  private logTail: string[] = [];

  constructor(private readonly options: MirrorOptions) {}

  static async start(options: MirrorOptions): Promise<MirrorProcess> {
    const mirror = new MirrorProcess(options);
    await mirror.start();
    return mirror;
  }

  /** The mirror's own pid (setpriv execs it): for reading its /proc entries. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Starts an instance on the data directory and waits until it listens. */
  async start(): Promise<void> {
    const { upstream, data, config, listen = "127.0.0.1:0" } = this.options;
    const args = ["--import", "tsx", "src/cli.ts", "serve", "--listen", listen, "--data", data];
    if (config) args.push("--config", config);
    args.push(...(this.options.args ?? []));
    // setpriv: the kernel kills the mirror if the test process dies without running its after hooks.
    const child = spawn(
      "setpriv",
      ["--pdeathsig", "KILL", "--", process.execPath, ...args, "--upstream", upstream],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.child = child;
    this.exit = once(child, "exit");
    this.url = await this.listening(child);
  }

  /** Resolves with the URL from the startup log line; rejects with the log's end if the mirror never gets there. */
  private listening(child: ChildProcess): Promise<string> {
    this.logTail = [];
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        child.kill("SIGKILL");
        reject(new Error(`hubmirror ${why}:\n${this.logTail.join("\n")}`));
      };
      const timer = setTimeout(() => fail(`not listening after ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
      const onExit = (code: number | null, signal: string | null) => {
        clearTimeout(timer);
        fail(`exited (${code ?? signal}) during startup`);
      };
      const keep = (line: string) => {
        this.logTail = [...this.logTail.slice(1 - LOG_TAIL_LINES), line];
        const url = line.includes("hubmirror listening")
          ? (JSON.parse(line) as { url?: string }).url
          : undefined;
        if (url) {
          clearTimeout(timer);
          child.off("exit", onExit);
          resolve(url);
        }
      };
      // Read both pipes to the end, also after startup: a full pipe would block the mirror.
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", keep);
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", keep);
      child.once("exit", onExit);
    });
  }

  /** Sends `signal` (e.g. SIGHUP) to the mirror. */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** SIGKILL, synchronously (so that a caller can time it to a byte); `stopped()` resolves once it is gone. */
  kill(): void {
    this.child?.kill("SIGKILL");
  }

  stopped(): Promise<unknown> {
    return this.exit;
  }

  /** SIGTERM, SIGKILL after a grace period. Safe to call when not running. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    child.kill("SIGTERM");
    await this.exit;
    clearTimeout(timer);
  }

  /** Resolves once no blob download is in progress: a fill commits just after its clients got the last byte. */
  settled(): Promise<void> {
    return fillsSettled(() => this.metric("hubmirror_blob_fills_in_flight"));
  }

  /** One counter from `/metrics` (summed over the series that carry `labels`). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const { ca } = this.options;
    const dispatcher = ca ? new Agent({ connect: { ca } }) : undefined;
    try {
      const res = await request(`${this.url}/metrics`, dispatcher ? { dispatcher } : {});
      if (res.statusCode !== 200) throw new Error(`GET /metrics: ${res.statusCode}`);
      return metricValue(await res.body.text(), name, labels);
    } finally {
      await dispatcher?.close();
    }
  }

  /** The last lines the current instance logged, for failure messages. */
  log(): string {
    return this.logTail.join("\n");
  }
}

/** A MirrorProcess on a temp data dir of its own. */
export interface TempMirrorProcess {
  process: MirrorProcess;
  /** Its data directory (`storage/` holds the blob store). */
  data: string;
  /** Stops the mirror and deletes the temp dir. */
  stop(): Promise<void>;
}

/**
 * hubmirror as a child process in front of `upstream`, on a new temp data dir, with `config` (the YAML keys of
 * src/config/schema.ts) on top of the defaults. MirrorProcess passes --listen, --data and --upstream; the rest
 * comes from a config file.
 */
export async function startMirrorProcess(
  upstream: string,
  config: ConfigInput = {},
): Promise<TempMirrorProcess> {
  const dir = await tempDir("mirror-process");
  const file = join(dir, "hubmirror.yaml");
  await writeFile(file, stringify(config));
  const data = join(dir, "data");
  const mirrorProcess = await MirrorProcess.start({ upstream, data, config: file }).catch(async (err) => {
    await removeTree(dir);
    throw err;
  });
  return {
    process: mirrorProcess,
    data,
    async stop() {
      await mirrorProcess.stop();
      await removeTree(dir);
    },
  };
}
