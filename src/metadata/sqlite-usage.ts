import type Database from "better-sqlite3";
import type { Row } from "./sqlite-schema.js";
import {
  type ImageUsage,
  USAGE_FIGURES,
  type UsageBucket,
  type UsageFigures,
  type UsageGrain,
  type UsageStore,
} from "./store.js";

const COLUMNS = USAGE_FIGURES.join(", ");
const ADD = USAGE_FIGURES.map((f) =>
  f === "peakSpeed" ? `${f} = max(${f}, excluded.${f})` : `${f} = ${f} + excluded.${f}`,
).join(", ");

function statements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    addBucket: p(
      `INSERT INTO usage_buckets (grain, t, ${COLUMNS}) VALUES (?, ?, ${USAGE_FIGURES.map(() => "?").join(", ")})
       ON CONFLICT DO UPDATE SET ${ADD}`,
    ),
    addImage: p(
      `INSERT INTO usage_images (grain, t, image, pulls, bytes) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET pulls = pulls + excluded.pulls, bytes = bytes + excluded.bytes`,
    ),
    series: p(`SELECT t, ${COLUMNS} FROM usage_buckets WHERE grain = ? AND t >= ? AND t < ? ORDER BY t`),
    images: p(
      `SELECT image, sum(pulls) AS pulls, sum(bytes) AS bytes FROM usage_images
       WHERE grain = ? AND t >= ? AND t < ? GROUP BY image`,
    ),
    pruneBuckets: p("DELETE FROM usage_buckets WHERE grain = ? AND t < ?"),
    pruneImages: p("DELETE FROM usage_images WHERE grain = ? AND t < ?"),
    // An image stays when it is in its bucket's top by pulls or by bytes (a big image pulled rarely counts too).
    trimImages: p(
      `DELETE FROM usage_images WHERE rowid IN (
         SELECT rowid FROM (
           SELECT rowid,
             row_number() OVER (PARTITION BY t ORDER BY pulls DESC, bytes DESC, image) AS by_pulls,
             row_number() OVER (PARTITION BY t ORDER BY bytes DESC, pulls DESC, image) AS by_bytes
           FROM usage_images WHERE grain = ? AND t >= ? AND t < ?)
         WHERE by_pulls > ? AND by_bytes > ?)`,
    ),
  };
}

/** The SQLite side of UsageStore, on the metadata store's database. */
export class SqliteUsage implements UsageStore {
  private readonly stmt: ReturnType<typeof statements>;

  constructor(private readonly db: Database.Database) {
    this.stmt = statements(db);
  }

  async addUsage(buckets: readonly UsageBucket[]): Promise<void> {
    this.db.transaction(() => {
      for (const { grain, t, figures, images } of buckets) {
        this.stmt.addBucket.run(grain, t, ...USAGE_FIGURES.map((f) => figures[f]));
        for (const i of images) this.stmt.addImage.run(grain, t, i.image, i.pulls, i.bytes);
      }
    })();
  }

  async usageSeries(
    grain: UsageGrain,
    from: number,
    to: number,
  ): Promise<{ t: number; figures: UsageFigures }[]> {
    return (this.stmt.series.all(grain, from, to) as Row[]).map(({ t, ...figures }) => ({
      t: t as number,
      figures: figures as UsageFigures,
    }));
  }

  async usageImages(grain: UsageGrain, from: number, to: number): Promise<ImageUsage[]> {
    return this.stmt.images.all(grain, from, to) as ImageUsage[];
  }

  async pruneUsage(grain: UsageGrain, before: number): Promise<void> {
    this.db.transaction(() => {
      this.stmt.pruneBuckets.run(grain, before);
      this.stmt.pruneImages.run(grain, before);
    })();
  }

  async trimUsageImages(grain: UsageGrain, from: number, to: number, keep: number): Promise<void> {
    this.stmt.trimImages.run(grain, from, to, keep, keep);
  }
}
