/**
 * The checks themselves: a small, correct set of objects passes every one, and each mistake they exist to
 * catch is caught.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dashboardQueries } from "./dashboard.js";
import { type K8sObject, selects } from "./objects.js";
import {
  connectorProblems,
  containerProblems,
  imageProblems,
  networkProblems,
  placeholderProblems,
  rbacProblems,
  scalingProblems,
  secretProblems,
} from "./policy.js";
import { metricNames } from "./prometheus.js";
import { typeCheckObjects, validateAgainstSchemas } from "./schemas.js";

const labels = { "app.kubernetes.io/name": "connector", "fixmesh.io/session": "a" };

/** One session's connector, as the manifests make it, and a default deny. */
function fixture(): K8sObject[] {
  return structuredClone([
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "connector-a", namespace: "fixmesh", labels },
      spec: {
        replicas: 2,
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels: { ...labels, "fixmesh.io/fix-role": "initiator" } },
          spec: {
            serviceAccountName: "connector-a",
            securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                  { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: labels } },
                ],
              },
            },
            containers: [
              {
                name: "connector",
                image: "registry.example.com/fixmesh:1.0.0",
                ports: [{ name: "grpc", containerPort: 50051 }],
                startupProbe: { grpc: { port: 50051 } },
                livenessProbe: { grpc: { port: 50051 } },
                readinessProbe: { grpc: { port: 50051 } },
                resources: { requests: { cpu: "1", memory: "512Mi" }, limits: { cpu: "1", memory: "512Mi" } },
                securityContext: {
                  runAsNonRoot: true,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                },
                volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
              },
            ],
            volumes: [{ name: "tmp", emptyDir: {} }],
          },
        },
      },
    },
    {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: "connector-a", namespace: "fixmesh" },
      spec: { minAvailable: 1, selector: { matchLabels: labels } },
    },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "connector-a", namespace: "fixmesh" } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "connector-a", namespace: "fixmesh" },
      rules: [
        {
          apiGroups: ["coordination.k8s.io"],
          resources: ["leases"],
          resourceNames: ["connector-a"],
          verbs: ["get", "update"],
        },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "connector-a", namespace: "fixmesh" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "connector-a" },
      subjects: [{ kind: "ServiceAccount", name: "connector-a" }],
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "connector-a", namespace: "fixmesh" },
      spec: { selector: labels, ports: [{ name: "grpc", port: 50051, targetPort: "grpc" }] },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "default-deny", namespace: "fixmesh" },
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "connector-grpc", namespace: "fixmesh" },
      spec: {
        podSelector: { matchLabels: { "app.kubernetes.io/name": "connector" } },
        policyTypes: ["Ingress"],
        ingress: [{ ports: [{ port: 50051, protocol: "TCP" }] }],
      },
    },
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: fixtures are edited by path, whatever their shape
type Mutable = Record<string, any>;
const deployment = (o: K8sObject[]): Mutable => o[0] as Mutable;
const container = (o: K8sObject[]): Mutable => deployment(o).spec.template.spec.containers[0];

describe("a correct connector", () => {
  test("passes every check", async () => {
    const o = fixture();
    assert.deepEqual(
      [
        ...containerProblems(o),
        ...imageProblems(o, "prod"),
        ...connectorProblems(o, "prod"),
        ...rbacProblems(o),
        ...secretProblems(o, "prod"),
        ...networkProblems(o),
        ...placeholderProblems(o),
        ...(await validateAgainstSchemas(o)),
        ...typeCheckObjects(o),
      ],
      [],
    );
  });
});

/** The fixture turned into an acceptor session's connector as k8s/base/connector/acceptor makes it. */
function acceptorFixture(): K8sObject[] {
  const o = fixture();
  const d = deployment(o);
  d.spec.template.metadata.labels["fixmesh.io/fix-role"] = "acceptor";
  d.spec.strategy.rollingUpdate.maxUnavailable = 2;
  const c = container(o);
  c.readinessProbe = { grpc: { port: 50051, service: "fixmesh.leader" }, periodSeconds: 1, failureThreshold: 1 };
  c.lifecycle = { preStop: { exec: { command: ["node", "-e", "setTimeout(() => {}, 15000)"] } } };
  (o[1] as Mutable).spec.minAvailable = 0;
  return o;
}

describe("a correct acceptor connector (readiness follows leadership)", () => {
  test("passes every check", async () => {
    const o = acceptorFixture();
    assert.deepEqual(
      [
        ...containerProblems(o),
        ...connectorProblems(o, "prod"),
        ...(await validateAgainstSchemas(o)),
        ...typeCheckObjects(o),
      ],
      [],
    );
  });
});

describe("the checks catch, for an acceptor session", () => {
  test('readiness on service "": the FIX Service would route to the standby', () => {
    const o = acceptorFixture();
    container(o).readinessProbe.grpc.service = undefined;
    assert.match(
      connectorProblems(o, "prod").join("\n"),
      /readinessProbe asks for health service "", not "fixmesh.leader"/,
    );
  });

  test("liveness or startup on fixmesh.leader: the standby would be restarted forever", () => {
    const o = acceptorFixture();
    container(o).livenessProbe.grpc.service = "fixmesh.leader";
    container(o).startupProbe.grpc.service = "fixmesh.leader";
    const p = connectorProblems(o, "prod").join("\n");
    assert.match(p, /livenessProbe asks for health service "fixmesh.leader", not ""/);
    assert.match(p, /startupProbe asks for health service "fixmesh.leader", not ""/);
  });

  test("a PDB minAvailable 1, which would block every drain of the leader's node", () => {
    const o = acceptorFixture();
    (o[1] as Mutable).spec.minAvailable = 1;
    assert.match(connectorProblems(o, "prod").join("\n"), /minAvailable is 1, not 0 \(only the leader/);
  });

  test("maxUnavailable below the replicas (a rollout that never finishes), no preStop delay, a slow readiness probe", () => {
    const o = acceptorFixture();
    deployment(o).spec.strategy.rollingUpdate.maxUnavailable = 1;
    container(o).lifecycle = undefined;
    container(o).readinessProbe.periodSeconds = 5;
    const p = connectorProblems(o, "prod").join("\n");
    assert.match(p, /maxUnavailable 1: with only the leader ready a rollout never finishes unless it is at least 2/);
    assert.match(p, /no preStop delay/);
    assert.match(p, /readiness probed every 5 s/);
  });

  test("an initiator whose readiness follows leadership, or without a role label", () => {
    const o = fixture();
    container(o).readinessProbe.grpc.service = "fixmesh.leader";
    assert.match(
      connectorProblems(o, "prod").join("\n"),
      /readinessProbe asks for health service "fixmesh.leader", not "" \(an initiator's standby must stay ready\)/,
    );
    deployment(o).spec.template.metadata.labels["fixmesh.io/fix-role"] = undefined;
    assert.match(connectorProblems(o, "prod").join("\n"), /no fixmesh.io\/fix-role label/);
  });
});

describe("the checks catch", () => {
  test("a container running as root, with a writable root filesystem, no probes and no limits", () => {
    const o = fixture();
    const c = container(o);
    c.securityContext.readOnlyRootFilesystem = false;
    c.securityContext.runAsNonRoot = undefined;
    deployment(o).spec.template.spec.securityContext = { runAsUser: 0 };
    c.livenessProbe = undefined;
    c.resources.limits = undefined;
    const p = containerProblems(o).join("\n");
    for (const want of [
      "runAsNonRoot",
      "uid 0",
      "readOnlyRootFilesystem",
      "no liveness probe",
      "no memory limits",
      "seccomp",
    ]) {
      assert.match(p, new RegExp(want));
    }
  });

  test("a fixmesh container without a writable /tmp", () => {
    const o = fixture();
    deployment(o).spec.template.spec.volumes = [{ name: "tmp", configMap: { name: "x" } }];
    assert.match(containerProblems(o).join(), /\/tmp is not a writable emptyDir/);
  });

  test("an unpinned image in prod, latest anywhere", () => {
    const o = fixture();
    container(o).image = "fixmesh:dev";
    assert.match(imageProblems(o, "prod").join(), /not pinned/);
    assert.deepEqual(imageProblems(o, "dev"), []);
    container(o).image = "redis:latest";
    assert.match(imageProblems(o, "dev").join(), /latest/);
  });

  test("a connector with one replica, no PDB, no anti-affinity and an HTTP readiness probe", () => {
    const o = fixture().filter((x) => x.kind !== "PodDisruptionBudget");
    deployment(o).spec.replicas = 1;
    deployment(o).spec.template.spec.affinity = undefined;
    container(o).readinessProbe = { httpGet: { port: 8080, path: "/" } };
    const p = connectorProblems(o, "prod").join("\n");
    for (const want of [
      "1 replicas, not 2",
      "0 PodDisruptionBudgets",
      "anti-affinity",
      "readinessProbe is not a grpc probe",
    ]) {
      assert.match(p, new RegExp(want));
    }
  });

  test("a probe on another port than the grpc port", () => {
    const o = fixture();
    container(o).livenessProbe = { grpc: { port: 9464 } };
    assert.match(connectorProblems(o, "prod").join(), /livenessProbe is on port 9464, not 50051/);
  });

  test("a PDB with minAvailable 2, which would block every drain", () => {
    const o = fixture();
    (o[1] as Mutable).spec.minAvailable = 2;
    assert.match(connectorProblems(o, "prod").join(), /minAvailable is 2/);
  });

  test("a Role that reads pods, or updates every Lease", () => {
    const o = fixture();
    const role = o[3] as Mutable;
    role.rules.push({ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] });
    role.rules[1].verbs = ["create", "update"];
    const p = rbacProblems(o).join("\n");
    assert.match(p, /resources pods/);
    assert.match(p, /verb list/);
    assert.match(p, /create\/update on every Lease/);
  });

  test("a ClusterRole", () => {
    const o = fixture();
    o.push({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "x" }, rules: [] });
    assert.match(rbacProblems(o).join(), /cluster-wide RBAC/);
  });

  test("a Secret with data in prod, and a missing Secret in dev", () => {
    const o = fixture();
    o.push({ apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: { password: "eA==" } });
    assert.match(secretProblems(o, "prod").join(), /a Secret with data in prod/);
    deployment(o).spec.template.spec.volumes.push({ name: "creds", secret: { secretName: "missing" } });
    assert.match(secretProblems(o, "dev").join(), /no Secret missing/);
  });

  test("no default deny, and a Service port no policy lets in", () => {
    const o = fixture().filter((x) => x.metadata.name !== "default-deny");
    ((o.find((x) => x.metadata.name === "connector-grpc") as Mutable).spec.ingress[0].ports[0] as Mutable).port = 1;
    const p = networkProblems(o).join("\n");
    assert.match(p, /no default-deny/);
    assert.match(p, /no NetworkPolicy lets anything reach .* on 50051/);
  });

  test("a placeholder a session did not replace", () => {
    const o = fixture();
    (o[3] as Mutable).rules[0].resourceNames = ["SET-BY-SESSION"];
    assert.match(placeholderProblems(o).join(), /SET-BY-SESSION/);
  });

  test("missing ScaledObjects, and a scaled Deployment that sets replicas", () => {
    const o = fixture();
    o.push({
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: { name: "risk" },
      spec: { scaleTargetRef: { name: "connector-a" }, triggers: [{ type: "cpu", metadata: { value: "70" } }] },
    });
    const p = scalingProblems(o).join("\n");
    assert.match(p, /sets replicas, which KEDA owns/);
    assert.match(p, /no nats-jetstream trigger/);
    assert.match(p, /order-entry: no ScaledObject/);
  });

  test("a misspelt field (type check) and a wrong type (schema)", async () => {
    const o = fixture();
    container(o).readinessProbe = { grpc: { port: 50051 }, periodSecond: 5 };
    assert.match(typeCheckObjects(o).join(), /periodSecond/);
    container(o).ports[0].containerPort = "50051";
    assert.match((await validateAgainstSchemas(o)).join(), /containerPort must be integer/);
  });

  test("an object with no schema", async () => {
    assert.match(
      (await validateAgainstSchemas([{ apiVersion: "example.com/v1", kind: "Thing", metadata: { name: "x" } }])).join(),
      /no schema for apiVersion example.com\/v1/,
    );
  });
});

describe("helpers", () => {
  test("metricNames reads metric names, not label values or recording rules", () => {
    assert.deepEqual(
      [
        ...metricNames(
          'max by (s) (fixmesh_a{x="fixmesh_b"}) and on(i) fixmesh:c:max == 1 or rate(fixmesh_d_bucket[5m])',
        ),
      ],
      ["fixmesh_a", "fixmesh_d_bucket"],
    );
  });

  test("selects follows matchLabels and matchExpressions", () => {
    const l = { a: "1", b: "2" };
    assert.ok(selects({}, l));
    assert.ok(selects({ matchLabels: { a: "1" }, matchExpressions: [{ key: "b", operator: "In", values: ["2"] }] }, l));
    assert.ok(!selects({ matchExpressions: [{ key: "c", operator: "Exists" }] }, l));
    assert.ok(selects({ matchExpressions: [{ key: "b", operator: "NotIn", values: ["3"] }] }, l));
  });

  test("dashboardQueries reads targets inside rows and query variables", () => {
    const d = {
      panels: [{ type: "row", panels: [{ targets: [{ expr: "fixmesh_a" }] }] }, { targets: [{ expr: "fixmesh_b" }] }],
      templating: { list: [{ type: "query", query: { query: "label_values(fixmesh_c, session)" } }] },
    };
    assert.deepEqual(dashboardQueries(d), ["fixmesh_a", "fixmesh_b", "label_values(fixmesh_c, session)"]);
  });
});
