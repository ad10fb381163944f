import { MultiBar, Presets } from "cli-progress";
import type { PrefetchEvent, PrefetchSummary } from "../lifecycle/prefetch-events.js";
import { mib } from "./common.js";

/** Speed is measured over this much recent time: steady, yet quick to follow a change. */
const SPEED_WINDOW_MS = 5_000;

type Counts = Pick<PrefetchSummary, "images" | "blobs" | "bytes">;

/** Bytes per second over the last few seconds of progress events. */
class Speed {
  private readonly samples = [{ at: Date.now(), bytes: 0 }];

  add(bytes: number): number {
    const now = Date.now();
    this.samples.push({ at: now, bytes });
    let first = this.samples[0] as { at: number; bytes: number };
    while (now - first.at > SPEED_WINDOW_MS) {
      this.samples.shift();
      first = this.samples[0] as { at: number; bytes: number };
    }
    return now > first.at ? ((bytes - first.bytes) * 1000) / (now - first.at) : 0;
  }
}

/** The unit to show `scale` bytes (and smaller figures beside it) in. */
function unit(scale: number): [number, string] {
  return scale >= 2 ** 30 ? [2 ** 30, "GiB"] : [2 ** 20, "MiB"];
}

export function summaryText(s: PrefetchSummary): string {
  const { images, blobs, bytes } = s;
  return (
    `prefetched ${images.ok} of ${images.total} images in ${s.seconds.toFixed(1)} s: ` +
    `${blobs.fetched} blobs fetched (${mib(bytes.fetched)}), ${blobs.cached} already cached (${mib(bytes.cached)})\n`
  );
}

/**
 * A prefetch on a terminal: one line per image as it is resolved, done or failed, under a bar for the whole run
 * (images, blobs, bytes, speed, ETA).
 */
export class PrefetchDisplay {
  private readonly bars = new MultiBar(
    {
      stream: process.stdout,
      // Fits 80 columns: the terminal cuts what is wider.
      format:
        "{bar} {percentage}% | {images} images | {blobs} blobs | {bytes} | {speed} | ETA {eta_formatted}",
      barsize: 12,
      hideCursor: true,
      etaBuffer: 40,
      autopadding: true,
    },
    Presets.shades_classic,
  );
  private readonly bar = this.bars.create(1, 0, { images: "0/0", blobs: "0/0", bytes: "-", speed: "-" });
  private readonly speed = new Speed();

  onEvent(e: PrefetchEvent): void {
    switch (e.type) {
      case "start":
        this.bar.update({ images: `0/${e.images}` });
        return;
      case "image": {
        const where = e.platforms.length > 0 ? ` [${e.platforms.join(", ")}]` : "";
        const missing = e.missing.length > 0 ? ` (no ${e.missing.join(", ")})` : "";
        const layers = `${e.layers} layer${e.layers === 1 ? "" : "s"}`;
        this.bars.log(`  ${e.image}${where}${missing}: ${layers}, ${mib(e.bytes)}\n`);
        return;
      }
      case "image-done":
        this.bars.log(`✓ ${e.image}\n`);
        return;
      case "image-failed":
        this.bars.log(`✗ ${e.image}: ${e.error}\n`);
        return;
      case "progress":
        this.update(e);
        return;
    }
  }

  private update({ images, blobs, bytes }: Counts): void {
    const [div, name] = unit(bytes.total);
    this.bar.setTotal(Math.max(bytes.total, 1));
    this.bar.update(bytes.done, {
      images: `${images.ok + images.failed}/${images.total}`,
      blobs: `${blobs.fetched + blobs.cached}/${blobs.total}`,
      bytes: `${(bytes.done / div).toFixed(1)}/${(bytes.total / div).toFixed(1)} ${name}`,
      speed: `${mib(this.speed.add(bytes.fetched))}/s`,
    });
  }

  /** Shows the final figures (or leaves the bar as it was, on a failure) and gives the terminal back. */
  stop(summary?: PrefetchSummary): void {
    if (summary) this.update(summary);
    // A redraw writes out the image lines logged since the last one; stop() alone would drop them.
    this.bars.update();
    this.bars.stop();
  }
}
