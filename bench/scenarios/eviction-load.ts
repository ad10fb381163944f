// The load of the eviction scenario: pulls as a client makes them, a Zipf-popular sequence of them, hits while new
// content streams in, and what the mirror's access log says each request was (a hit or not).
import { readFileSync } from "node:fs";
import { seededRandom } from "../../test/fakes/seeded-random.js";
import type { TestImage } from "../../test/fixtures/images.js";
import { getOk } from "../http.js";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export interface Sample {
  /** The request's `?bench=` key: the same key on both mirrors names the same request. */
  key: string;
  ms: number;
  bytes: number;
}

/** `length` image indexes in [0, n), index k drawn with probability ∝ 1/(k+1). */
export function zipfSequence(n: number, length: number, seed: number): number[] {
  const weights = Array.from({ length: n }, (_, k) => 1 / (k + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const next = seededRandom(seed);
  return Array.from({ length }, () => {
    let x = next() * total;
    for (const [k, w] of weights.entries()) {
      x -= w;
      if (x < 0) return k;
    }
    return n - 1;
  });
}

/** One pull: the manifest by tag, then each blob; every body's length checked. */
export async function pull(url: string, img: TestImage, key: string): Promise<Sample[]> {
  const parts = [
    { path: `manifests/${img.tag}`, size: img.manifest.size, accept: OCI_MANIFEST },
    ...img.blobs.map((b) => ({ path: `blobs/${b.digest}`, size: b.size, accept: undefined })),
  ];
  const out: Sample[] = [];
  for (const [p, part] of parts.entries()) {
    const headers = part.accept ? { Accept: part.accept } : undefined;
    const res = await getOk(`${url}/v2/${img.repo}/${part.path}?bench=${key}.${p}`, {
      headers,
      length: part.size,
    });
    out.push({ key: `${key}.${p}`, ms: res.totalMs, bytes: res.bytes });
  }
  return out;
}

/** Pulls images[i] for every i of `sequence`, `clients` at a time. */
export async function pullSequence(
  url: string,
  images: TestImage[],
  sequence: number[],
  clients: number,
  key: string,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  let next = 0;
  const client = async () => {
    for (let i = next++; i < sequence.length; i = next++) {
      samples.push(...(await pull(url, images[sequence[i] as number] as TestImage, `${key}-${i}`)));
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return samples;
}

/** `clients` pull the hot images in turn until `fresh` (pulled one after the other) are all in. */
export async function hitsWhileFilling(
  url: string,
  hot: TestImage[],
  fresh: TestImage[],
  clients: number,
  key: string,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  let filling = true;
  const filler = async () => {
    for (const [i, img] of fresh.entries()) await pull(url, img, `${key}-new${i}`);
    filling = false;
  };
  const client = async (c: number) => {
    for (let i = 0; filling; i++) {
      samples.push(...(await pull(url, hot[i % hot.length] as TestImage, `${key}-hot${c}-${i}`)));
    }
  };
  await Promise.all([filler(), ...Array.from({ length: clients }, (_, c) => client(c))]);
  return samples;
}

/** The cache result of every benchmark request in a mirror's access log, by its `?bench=` key. */
export function cacheResults(logPath: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(logPath, "utf8").split("\n")) {
    const m = /"path":"[^"]*\?bench=([\w.-]+)"[^\n]*?"cache":"(\w+)"/.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

/** The sum of a metric's series in a mirror's /metrics. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))) sum += Number(m[1]);
  return sum;
}
