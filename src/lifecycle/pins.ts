import type { MetadataStore, Pin } from "../metadata/store.js";
import { type Digest, isDigest } from "../reference/reference.js";

/**
 * Images never evicted: pins from the configuration (`cache.pin`) and from `hubmirror pin`. Their content is the
 * tag's (or digest's) manifest and everything it references, child manifests of an index included, as stored.
 */
export class Pins {
  constructor(
    private readonly meta: Pick<MetadataStore, "listPins" | "getTag" | "manifestChildren">,
    private readonly configured: readonly Pin[],
  ) {}

  /** Every pin, the configured ones first, with where it comes from. */
  async list(): Promise<(Pin & { source: "config" | "api" })[]> {
    const stored = await this.meta.listPins();
    return [
      ...this.configured.map((p) => ({ ...p, source: "config" as const })),
      ...stored.map((p) => ({ ...p, source: "api" as const })),
    ];
  }

  isConfigured(pin: Pin): boolean {
    return this.configured.some(
      (c) => c.registry === pin.registry && c.repo === pin.repo && c.reference === pin.reference,
    );
  }

  /** The digests of all pinned content that is stored or referenced now. */
  async closure(): Promise<Set<Digest>> {
    const out = new Set<Digest>();
    const queue: Digest[] = [];
    for (const pin of await this.list()) {
      const digest = isDigest(pin.reference)
        ? (pin.reference as Digest)
        : (await this.meta.getTag(pin, pin.reference))?.digest;
      if (digest) queue.push(digest);
    }
    while (queue.length > 0) {
      const d = queue.pop() as Digest;
      if (out.has(d)) continue;
      out.add(d);
      queue.push(...(await this.meta.manifestChildren(d)));
    }
    return out;
  }
}
