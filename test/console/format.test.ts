// The console's pure parts under Node: how figures are written, and the setup snippets for an address.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bucketName,
  formatAgo,
  formatBytes,
  formatCount,
  formatRatio,
  formatSpeed,
  formatTime,
  shortDigest,
  sizeSetting,
} from "../../web/src/format.js";
import { isLoopback, parseAddress, setupGuides } from "../../web/src/snippets.js";

const L = "en-US";

describe("console formatting", () => {
  it("writes bytes in binary units with one decimal", () => {
    const cases: [number, string][] = [
      [0, "0 B"],
      [1000, "1,000 B"],
      [1023, "1,023 B"],
      [1024, "1.0 KiB"],
      [123456, "120.6 KiB"],
      [1.5 * 1024 ** 2, "1.5 MiB"],
      [5 * 1024 ** 3, "5.0 GiB"],
      [1536 * 1024 ** 3, "1.5 TiB"],
      [3 * 1024 ** 5, "3.0 PiB"],
      [4096 * 1024 ** 5, "4,096.0 PiB"],
      [-2048, "-2.0 KiB"],
    ];
    for (const [n, text] of cases) assert.equal(formatBytes(n, L), text, String(n));
    assert.equal(formatBytes(Number.NaN, L), "—");
    assert.equal(formatBytes(null, L), "—");
    assert.equal(formatSpeed(8 * 1024 ** 2, L), "8.0 MiB/s");
    assert.equal(formatSpeed(undefined, L), "—");
  });

  it("writes a size setting in the largest unit that divides it", () => {
    const cases: [number, string][] = [
      [0, "0"],
      [1000, "1000"],
      [1024, "1KiB"],
      [1536, "1536"],
      [3 * 1024 ** 2, "3MiB"],
      [1536 * 1024 ** 2, "1536MiB"],
      [10 * 1024 ** 3, "10GiB"],
      [2 * 1024 ** 4, "2TiB"],
      [2048 * 1024 ** 4, "2048TiB"],
    ];
    for (const [n, text] of cases) assert.equal(sizeSetting(n), text, String(n));
  });

  it("writes ratios as percentages, counts with grouping, and — for nothing", () => {
    assert.equal(formatRatio(0.9113, L), "91.1%");
    assert.equal(formatRatio(1, L), "100.0%");
    assert.equal(formatRatio(0, L), "0.0%");
    assert.equal(formatRatio(null, L), "—");
    assert.equal(formatCount(1234567, L), "1,234,567");
    assert.equal(formatCount(0, L), "0");
    assert.equal(formatRatio(0.5, "de-DE"), "50,0\u00a0%");
    assert.equal(formatBytes(123456, "de-DE"), "120,6 KiB");
  });

  it("writes times, ages, digests and bucket widths", () => {
    const t = Date.UTC(2025, 11, 1, 13, 4, 5);
    const inUtc = formatTime(t, false, L);
    assert.match(inUtc, /^\d\d:04:05 (AM|PM)$/);
    assert.match(formatTime(t, true, L), /Dec 1, 2025/);
    assert.equal(formatAgo(t - 2_000, t), "just now");
    assert.equal(formatAgo(t - 42_000, t), "42 s ago");
    assert.equal(formatAgo(t - 5 * 60_000, t), "5 min ago");
    assert.equal(formatAgo(t - 3 * 3_600_000, t), "3 h ago");
    assert.equal(formatAgo(t - 2 * 86_400_000, t), "2 d ago");
    assert.equal(shortDigest(`sha256:${"0123456789abcdef".repeat(4)}`), "sha256:0123456789ab");
    assert.equal(shortDigest("latest"), "latest");
    assert.equal(bucketName(60_000), "minute");
    assert.equal(bucketName(3_600_000), "hour");
    assert.equal(bucketName(86_400_000), "day");
  });
});

describe("setup snippets", () => {
  it("parses an address as typed or as the page's origin", () => {
    assert.deepEqual(parseAddress("http://mirror.example:5000"), {
      url: "http://mirror.example:5000",
      host: "mirror.example:5000",
      insecure: true,
    });
    assert.deepEqual(parseAddress(" mirror.example:5000/ "), parseAddress("http://mirror.example:5000"));
    assert.deepEqual(parseAddress("hub.example.org", "https:"), {
      url: "https://hub.example.org",
      host: "hub.example.org",
      insecure: false,
    });
    assert.equal(parseAddress("https://hub.example.org:443")?.host, "hub.example.org");
    for (const bad of [
      "",
      "ftp://x",
      "http://m.example/path",
      "http://u:p@m.example",
      "http://m.example/?q",
      "::",
    ]) {
      assert.equal(parseAddress(bad), undefined, bad);
    }
    assert.equal(isLoopback(parseAddress("127.0.0.1:5000") ?? assert.fail()), true);
    assert.equal(isLoopback(parseAddress("localhost:5000") ?? assert.fail()), true);
    assert.equal(isLoopback(parseAddress("[::1]:5000") ?? assert.fail()), true);
    assert.equal(isLoopback(parseAddress("mirror.example:5000") ?? assert.fail()), false);
  });

  it("puts the address in every config file, with the insecure settings for plain http only", () => {
    const http = setupGuides(parseAddress("http://mirror.example:5000") ?? assert.fail());
    const files = http.flatMap((g) => g.steps.filter((s) => s.file));
    assert.deepEqual(
      files.map((s) => s.file),
      [
        "/etc/docker/daemon.json",
        "/etc/containerd/certs.d/docker.io/hosts.toml",
        "/etc/rancher/k3s/registries.yaml",
        "/etc/containers/registries.conf",
      ],
    );
    for (const s of files) assert.match(s.code ?? "", /mirror\.example:5000/, s.file);
    const [daemon, hosts, k3s, conf] = files.map((s) => s.code ?? "");
    assert.deepEqual(JSON.parse(daemon ?? ""), {
      "registry-mirrors": ["http://mirror.example:5000"],
      "insecure-registries": ["mirror.example:5000"],
    });
    assert.equal(
      hosts,
      'server = "https://registry-1.docker.io"\n\n[host."http://mirror.example:5000"]\n  capabilities = ["pull", "resolve"]',
    );
    assert.equal(k3s, 'mirrors:\n  docker.io:\n    endpoint:\n      - "http://mirror.example:5000"');
    assert.equal(
      conf,
      '[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "mirror.example:5000"\ninsecure = true',
    );

    const https = setupGuides(parseAddress("https://hub.example.org") ?? assert.fail());
    const code = (id: string, file: string) =>
      https.find((g) => g.id === id)?.steps.find((s) => s.file === file)?.code ?? "";
    assert.deepEqual(JSON.parse(code("docker", "/etc/docker/daemon.json")), {
      "registry-mirrors": ["https://hub.example.org"],
    });
    assert.doesNotMatch(code("podman", "/etc/containers/registries.conf"), /insecure/);
    const check = https.find((g) => g.id === "check")?.steps[0]?.code;
    assert.equal(check, "curl -s https://hub.example.org/v2/");
  });
});
