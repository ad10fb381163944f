import { type Digest, digestAlgorithm, digestHex } from "../reference/reference.js";

/*
 * What lives where; the local blob store owns this layout, drivers only see paths. Storage driver paths (under
 * the storage root, `<data>/storage` for the filesystem driver):
 *
 *   /blobs/<algorithm>/<first two hex>/<hex>/data   bytes of every layer, config and manifest, by digest;
 *                                                   shared by all repositories and upstreams
 *   /_uploads/<host>-<pid>-<uuid>                   filesystem driver temp writes: renamed into place on commit,
 *                                                   never served; removed at start when their writer is dead or
 *                                                   they sat untouched for an hour (the root may be shared)
 *
 * Beside the storage root, in the data directory:
 *
 *   <data>/hubmirror.db                             metadata (SQLite): the blob index (size, location, last
 *                                                   access of everything stored), tags, manifests, repository
 *                                                   links, counters
 *   <data>/spool/                                   fan-out spool files, for drivers without a local temp file
 */
export function blobPath(digest: Digest): string {
  const hex = digestHex(digest);
  return `/blobs/${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}/data`;
}
