/**
 * k8s/: every overlay rendered with `kubectl kustomize`, validated against the Kubernetes schemas offline
 * (kubernetes-models), and held to our policies. No API server runs here: nothing is applied.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import { parseVenueSimConfig } from "@fixmesh/venue-sim";
import { parse as parseYaml } from "yaml";
import { connectorConfigReport } from "./connector-config.js";
import { type KubectlInfo, kubectlInfo, kustomize, kustomizeTooOld, type Rendered } from "./kubectl.js";
import { dataOf, find, type K8sObject, workloads } from "./objects.js";
import { OPERATIONS_DOC, OVERLAYS } from "./paths.js";
import {
  connectorProblems,
  connectorWorkloads,
  containerProblems,
  externalSecrets,
  imageProblems,
  networkProblems,
  placeholderProblems,
  rbacProblems,
  scalingProblems,
  secretProblems,
} from "./policy.js";
import { typeCheckObjects, validateAgainstSchemas } from "./schemas.js";

/** Fails with every problem, one per line. */
function none(problems: readonly string[], what: string): void {
  assert.deepEqual(problems, [], `${what}:\n  ${problems.join("\n  ")}`);
}

let kubectl: KubectlInfo | { error: string } | undefined;
function usableKubectl(): KubectlInfo {
  kubectl ??= kubectlInfo();
  if ("error" in kubectl) assert.fail(kubectl.error);
  const old = kustomizeTooOld(kubectl);
  if (old !== undefined) assert.fail(old);
  return kubectl;
}

test("kubectl is installed, with kustomize v5 or later", (t) => {
  const info = usableKubectl();
  t.diagnostic(`kubectl ${info.kubectl}, kustomize ${info.kustomize}`);
});

for (const overlay of OVERLAYS) {
  describe(`overlay ${overlay.name}`, () => {
    let rendered: Rendered | undefined;
    let renderError: Error | undefined;
    before(() => {
      try {
        usableKubectl();
        rendered = kustomize(overlay.dir);
      } catch (e) {
        renderError = e as Error;
      }
    });
    const objects = (): K8sObject[] => {
      if (renderError !== undefined) throw renderError;
      return (rendered as Rendered).objects;
    };

    test("renders with kubectl kustomize, without warnings", () => {
      const r = objects();
      assert.ok(r.length > 0, "nothing rendered");
      assert.equal((rendered as Rendered).warnings, "", "kustomize warned");
      none(placeholderProblems(r), "values a session must set");
    });

    test("every object is valid against the Kubernetes schemas (kubernetes-models, offline)", async () => {
      none(await validateAgainstSchemas(objects()), "invalid objects");
    });

    test("no object has a field its schema does not know (type-checked against kubernetes-models' types)", () => {
      none(typeCheckObjects(objects()), "fields the API does not have, or of the wrong type");
    });

    test("every container runs as non-root with a read-only root filesystem, resources and probes", () => {
      none(containerProblems(objects()), "containers");
    });

    test(`images are tagged${overlay.env === "prod" ? " and pinned to a release" : ""}`, () => {
      none(imageProblems(objects(), overlay.env), "images");
    });

    test("each connector Deployment has 2 replicas, anti-affinity, a PDB, gRPC health probes (readiness on fixmesh.leader for acceptors) and a rollout that can finish", (t) => {
      const o = objects();
      none(connectorProblems(o, overlay.env), "connector Deployments");
      t.diagnostic(
        `connectors: ${connectorWorkloads(o)
          .map((w) => w.object.metadata.name)
          .join(", ")}`,
      );
    });

    test("RBAC touches only Leases: each connector may get and update its own Lease, and create one", () => {
      none(rbacProblems(objects()), "RBAC");
    });

    test("each connector's YAML passes the connector's schema with the pod's env and mounts, and agrees with the manifests", (t) => {
      const report = connectorConfigReport(objects());
      for (const n of report.notes) t.diagnostic(n);
      none(report.problems, "connector configuration");
    });

    if (overlay.env === "dev") {
      test("every Secret and ConfigMap the pods refer to is in the render", () => {
        none(secretProblems(objects(), "dev"), "references");
      });

      test("the venue simulator's config passes its schema and listens where the dev session connects", () => {
        const o = objects();
        const sim = workloads(o).find((w) => w.object.metadata.name === "venue-sim");
        assert.ok(sim, "no venue-sim Deployment");
        const cmName = (sim.pod.volumes ?? []).find((v) => v.name === "config")?.configMap?.name ?? "";
        const text = dataOf(find(o, "ConfigMap", cmName), "venue.yaml");
        assert.ok(text, `no venue.yaml in ConfigMap ${cmName}`);
        const cfg = parseVenueSimConfig(parseYaml(text), { baseDir: "/tmp" });
        const fixPort = sim.pod.containers[0].ports?.find((p) => p.name === "fix")?.containerPort;
        assert.equal(cfg.listen.port, fixPort, "the simulator listens on its container's fix port");
        const venuea = connectorWorkloads(o).find((w) => w.podLabels["fixmesh.io/session"] === "venuea");
        assert.ok(venuea, "no connector for venuea");
        const connectorCm = (venuea.pod.volumes ?? []).find((v) => v.name === "config")?.configMap?.name ?? "";
        const connectorYaml = parseYaml(dataOf(find(o, "ConfigMap", connectorCm), "connector.yaml") ?? "") as {
          sessions: Array<{
            SenderCompID: string;
            TargetCompID: string;
            initiator: { hosts: Array<{ host: string; port: number }> };
          }>;
        };
        const session = connectorYaml.sessions[0];
        assert.deepEqual(session.initiator.hosts, [{ host: "venue-sim", port: cfg.listen.port }]);
        const simSession = cfg.sessions.find((s) => s.SenderCompID === session.TargetCompID);
        assert.equal(simSession?.TargetCompID, session.SenderCompID, "the simulator has the session's mirror image");
      });
    } else {
      test("no Secret carries data, and every Secret the pods need is listed in docs/operations.md", () => {
        const o = objects();
        none(secretProblems(o, "prod"), "secrets");
        const doc = readFileSync(OPERATIONS_DOC, "utf8");
        const missing = [...externalSecrets(o)].filter((name) => !doc.includes(`\`${name}\``));
        none(missing, "Secrets to create that docs/operations.md does not list");
      });
    }

    test("NetworkPolicies deny by default and let in every Service port", () => {
      none(networkProblems(objects()), "NetworkPolicies");
    });

    test("order-entry and persistence scale on JetStream consumer lag (KEDA nats-jetstream), risk on CPU with a durable per pod", () => {
      none(scalingProblems(objects()), "scaling");
    });
  });
}
