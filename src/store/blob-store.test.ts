import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFsDriver } from "../storage/fs-driver.js";
import { MemoryDriver } from "../storage/memory-driver.js";
import { runBlobStoreSuite } from "./blob-store-suite.js";

runBlobStoreSuite("filesystem", async () => createFsDriver(await mkdtemp(join(tmpdir(), "hubmirror-fs-"))));
runBlobStoreSuite("inmemory", async () => new MemoryDriver());
