import assert from "node:assert/strict";
import { it } from "node:test";
import { clientKind } from "./client-kind.js";

it("tells the client kind from real User-Agents", () => {
  const seen: [string | undefined, string][] = [
    // Debian 12's docker.io 20.10, containerd 1.6 (ctr), podman 4.3 (containers/image 5.23) and skopeo 1.9, as
    // captured from their requests.
    [
      "docker/20.10.24+dfsg1 go/go1.19.8 git-commit/5d6db84 kernel/6.1.0-18-amd64 os/linux arch/amd64 UpstreamClient(Docker-Client/20.10.24+dfsg1 \\(linux\\))",
      "docker",
    ],
    ["containerd/1.6.20~ds1", "containerd"],
    ["containerd/v1.7.13", "containerd"],
    ["containers/5.23.1 (github.com/containers/image)", "podman"],
    ["skopeo/1.9.3", "podman"],
    // CRI-O's and the kubelet's own (client-go's default form).
    ["cri-o/1.25.2 go/go1.19.5 os/linux arch/amd64", "kubelet"],
    ["kubelet/v1.27.3 (linux/amd64) kubernetes/25b4e43", "kubelet"],
    ["Go-http-client/1.1", "other"],
    ["curl/7.88.1", "other"],
    // A name in the middle decides nothing: the product is the first token.
    ["python-requests/2.31 (compatible; docker/20.10)", "other"],
    ["", "other"],
    [undefined, "other"],
  ];
  for (const [ua, kind] of seen) assert.equal(clientKind(ua), kind, String(ua));
  // Remembered: the same answer the second time.
  assert.equal(clientKind("skopeo/1.9.3"), "podman");
});
