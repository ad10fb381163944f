import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDriverSuite } from "./driver-suite.js";
import { createFsDriver } from "./fs-driver.js";

runDriverSuite("filesystem", async () => createFsDriver(await mkdtemp(join(tmpdir(), "hubmirror-fs-"))));
