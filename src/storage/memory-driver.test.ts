import { runDriverSuite } from "./driver-suite.js";
import { MemoryDriver } from "./memory-driver.js";

runDriverSuite("inmemory", async () => new MemoryDriver());
