import { type Digest, digestAlgorithm, digestHex } from "../reference/reference.js";

/*
 * What lives where. Storage driver paths (under storage root, `<data>/storage` for the filesystem driver):
 *
 *   /blobs/<algorithm>/<first two hex>/<hex>/data   bytes of every layer, config and manifest, by digest;
 *                                                   shared by all repositories and upstreams
 *   /_uploads/<uuid>                                filesystem driver temp writes: renamed into place on commit,
 *                                                   never served, removed at start
 *
 * Beside the storage root, in the data directory:
 *
 *   <data>/hubmirror.db                             metadata (SQLite): tags, manifests, repository links,
 *                                                   access times, counters
 *   <data>/spool/                                   fan-out spool files, for drivers without a local temp file
 */
export function blobPath(digest: Digest): string {
  const hex = digestHex(digest);
  return `/blobs/${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}/data`;
}
