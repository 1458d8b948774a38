/**
 * order-entry's, risk's and persistence's ConfigMaps of every overlay, read with each app's own config loader (and
 * risk's limits with its limits-file parser), and checked against the Deployments (ports, probes, dialled Services).
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { APPS, appsConfigReport } from "./apps-config.js";
import { kubectlInfo, kustomize, kustomizeTooOld, type Rendered } from "./kubectl.js";
import { OVERLAYS } from "./paths.js";

for (const overlay of OVERLAYS) {
  describe(`overlay ${overlay.name}: the apps' configs`, () => {
    let rendered: Rendered | Error | undefined;
    before(() => {
      try {
        const info = kubectlInfo();
        if ("error" in info) throw new Error(info.error);
        const old = kustomizeTooOld(info);
        if (old !== undefined) throw new Error(old);
        rendered = kustomize(overlay.dir);
      } catch (e) {
        rendered = e as Error;
      }
    });

    test("each app's YAML passes its own loader with the pod's env and mounts, the probes go to its health port and /metrics is served on the scraped port", (t) => {
      if (rendered instanceof Error) throw rendered;
      const report = appsConfigReport((rendered as Rendered).objects);
      for (const c of report.checked) t.diagnostic(c);
      assert.deepEqual(report.problems, [], `apps' configuration:\n  ${report.problems.join("\n  ")}`);
      assert.equal(report.checked.length, APPS.length);
    });
  });
}
