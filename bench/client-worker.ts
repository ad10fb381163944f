// A worker thread running some of the concurrent clients (see clients.ts): receiving and hashing gigabytes is
// real CPU work, and one harness thread would cap what can be measured on a machine with more than one core.
import { parentPort, workerData } from "node:worker_threads";
import { type GetOptions, get } from "./http.js";

export interface WorkerJob {
  url: string;
  clients: number;
  opts: GetOptions;
}

/** One client's outcome; times in ms on the shared clock (performance.timeOrigin + performance.now()). */
export interface ClientOutcome {
  ok: boolean;
  error?: string;
  status: number;
  bytes: number;
  sha256?: string;
  start: number;
  firstByte: number;
  end: number;
}

const port = parentPort;
if (!port) throw new Error("client-worker.ts runs as a worker thread");
const job = workerData as WorkerJob;
const now = () => performance.timeOrigin + performance.now();

port.once("message", async () => {
  const outcomes = await Promise.all(
    Array.from({ length: job.clients }, async (): Promise<ClientOutcome> => {
      const start = now();
      try {
        const r = await get(job.url, job.opts);
        return {
          ok: true,
          status: r.status,
          bytes: r.bytes,
          ...(r.sha256 && { sha256: r.sha256 }),
          start,
          firstByte: start + r.ttfbMs,
          end: start + r.totalMs,
        };
      } catch (err) {
        return { ok: false, error: String(err), status: 0, bytes: 0, start, firstByte: now(), end: now() };
      }
    }),
  );
  port.postMessage(outcomes);
});
port.postMessage("ready");
