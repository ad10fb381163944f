import assert from "node:assert/strict";
import { it } from "node:test";
import { loadConfig, parseConfig } from "./load.js";

it("the example config in the repository is valid and equals the defaults", () => {
  const example = loadConfig({ config: new URL("../../config.example.yaml", import.meta.url).pathname }, {});
  assert.deepEqual(example, parseConfig({}));
});
