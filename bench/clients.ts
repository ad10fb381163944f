// Many concurrent clients spread over worker threads (one per core): wall time from the first request to the last
// byte, every client's outcome on one clock.
import { once } from "node:events";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ClientOutcome, WorkerJob } from "./client-worker.js";
import type { GetOptions } from "./http.js";

export type { ClientOutcome };

/** A worker thread running a TypeScript module of the bench (`file`, relative to this one) with `data`. */
export function tsWorker(file: string, data: unknown): Worker {
  // A worker does not inherit the tsx loader (Node 20): register it, then load the TypeScript worker.
  const bootstrap = `(async () => {
  const { register } = await import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))});
  register();
  await import(${JSON.stringify(new URL(file, import.meta.url).href)});
})();`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

export async function concurrentGets(
  url: string,
  clients: number,
  opts: GetOptions = {},
): Promise<{ wallMs: number; outcomes: ClientOutcome[] }> {
  const threads = Math.max(1, Math.min(availableParallelism(), clients));
  const workers = Array.from({ length: threads }, (_, i) => {
    const job: WorkerJob = {
      url,
      clients: Math.floor(clients / threads) + (i < clients % threads ? 1 : 0),
      opts,
    };
    return tsWorker("./client-worker.ts", job);
  });
  try {
    // Start everyone at once, after every worker has loaded.
    await Promise.all(workers.map((w) => once(w, "message")));
    const done = workers.map(async (w) => (await once(w, "message"))[0] as ClientOutcome[]);
    for (const w of workers) w.postMessage("go");
    const outcomes = (await Promise.all(done)).flat();
    const wallMs = Math.max(...outcomes.map((o) => o.end)) - Math.min(...outcomes.map((o) => o.start));
    return { wallMs, outcomes };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
