/**
 * The Lease backend against the in-test Lease API server (`FakeLeaseApi`: Kubernetes' semantics for create, get
 * and replace with resourceVersion conflicts; no real API server can run here): the server's own semantics, the
 * shared backend suite (each replica through its own ChaosProxy), then what only a Lease has: conflicts between
 * writers, the record's fields, foreign writes.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createElector } from "../create.js";
import { DeposeCode } from "../elector.js";
import { backendSuite, SUITE_TIMING } from "../testing/backend-suite.js";
import { FakeLeaseApi } from "../testing/fake-lease-api.js";
import { type Lease, LeaseApi, LeaseApiError } from "./lease-api.js";
import { LeaseLock } from "./lease-lock.js";

const NS = "fixmesh";
const TOKEN = "test-token";
const fake = new FakeLeaseApi({ token: TOKEN });
let api: LeaseApi;
before(async () => {
  await fake.start();
  api = new LeaseApi({ server: fake.url, token: TOKEN });
});
after(async () => {
  api.close();
  await fake.stop();
});

const freshName = () => `session-${randomBytes(4).toString("hex")}`;
const lease = (name: string, holder = "x"): Lease => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name },
  spec: { holderIdentity: holder, leaseDurationSeconds: 1, leaseTransitions: 0 },
});

async function rejected(p: Promise<unknown>): Promise<LeaseApiError> {
  const e = await p.then(
    () => assert.fail("the call succeeded"),
    (err: unknown) => err,
  );
  assert.ok(e instanceof LeaseApiError, String(e));
  return e;
}

describe("the in-test Lease API server (Kubernetes semantics)", () => {
  it("create → 201, and 409 AlreadyExists for a second create of the name", async () => {
    const name = freshName();
    const created = await api.create(NS, lease(name));
    assert.equal(created.metadata.namespace, NS);
    assert.ok(created.metadata.resourceVersion);
    assert.ok(created.metadata.uid);
    const e = await rejected(api.create(NS, lease(name)));
    assert.equal(e.status, 409);
    assert.equal(e.reason, "AlreadyExists");
  });

  it("get → the Lease, or 404 NotFound (null) when there is none", async () => {
    assert.equal(await api.get(NS, freshName()), null);
    const name = freshName();
    await api.create(NS, lease(name, "someone"));
    assert.equal((await api.get(NS, name))?.spec?.holderIdentity, "someone");
  });

  it("replace with a stale resourceVersion → 409 Conflict; with the current one → a new resourceVersion", async () => {
    const name = freshName();
    const v1 = await api.create(NS, lease(name));
    const v2 = await api.replace(NS, name, { ...v1, spec: { ...v1.spec, holderIdentity: "y" } });
    assert.notEqual(v2.metadata.resourceVersion, v1.metadata.resourceVersion);
    const e = await rejected(api.replace(NS, name, { ...v1, spec: { ...v1.spec, holderIdentity: "z" } }));
    assert.equal(e.status, 409);
    assert.equal(e.reason, "Conflict");
    assert.equal((await api.get(NS, name))?.spec?.holderIdentity, "y");
    // No resourceVersion: an unconditional update, as Kubernetes allows.
    const { resourceVersion: _, ...meta } = v2.metadata;
    await api.replace(NS, name, { ...v2, metadata: meta, spec: { ...v2.spec, holderIdentity: "w" } });
    assert.equal((await api.get(NS, name))?.spec?.holderIdentity, "w");
  });

  it("replace of a Lease that does not exist → 404; an invalid spec → 422; a wrong token → 401", async () => {
    const name = freshName();
    assert.equal((await rejected(api.replace(NS, name, lease(name)))).status, 404);
    const bad = lease(name);
    bad.spec = { leaseDurationSeconds: 0 };
    assert.equal((await rejected(api.create(NS, bad))).status, 422);
    const intruder = new LeaseApi({ server: fake.url, token: "wrong" });
    try {
      const e = await rejected(intruder.get(NS, name));
      assert.equal(e.status, 401);
      assert.equal(e.reason, "Unauthorized");
    } finally {
      intruder.close();
    }
  });
});

backendSuite("lease", () => ({
  target: { host: "127.0.0.1", port: Number(new URL(fake.url).port) },
  async fresh() {
    const name = freshName();
    return {
      elector: (identity, port) =>
        createElector({
          kind: "lease",
          api: { server: `http://127.0.0.1:${port}`, token: TOKEN },
          namespace: NS,
          name,
          identity,
          timing: SUITE_TIMING,
        }),
      async deadHolder() {
        const lock = new LeaseLock({ api, namespace: NS, name, identity: "dead", leaseDurationMs: 1000 });
        const r = await lock.acquire(new AbortController().signal);
        assert.ok(r.acquired);
        return r.epoch;
      },
      cleanup: async () => {
        fake.delete(NS, name);
      },
    };
  },
}));

describe("lease backend", () => {
  const signal = () => new AbortController().signal;

  it("writes the record as client-go does: holder, whole-second duration, MicroTime times, transitions", async () => {
    const name = freshName();
    const a = new LeaseLock({ api, namespace: NS, name, identity: "pod-a", leaseDurationMs: 1500 });
    assert.deepEqual(await a.acquire(signal()), { acquired: true, epoch: 1 });
    const rec = fake.lease(NS, name)?.spec;
    assert.equal(rec?.holderIdentity, "pod-a");
    assert.equal(rec?.leaseDurationSeconds, 2, "1.5 s rounds up: never shorter than the holder's own view");
    assert.equal(rec?.leaseTransitions, 0);
    assert.match(rec?.renewTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(await a.renew(1, signal()), true);
    await a.release(1, signal());
    const released = fake.lease(NS, name)?.spec;
    assert.equal(released?.holderIdentity, "");
    assert.equal(released?.leaseDurationSeconds, 1);
    // A released Lease is free at once; the new holder is a transition, and its epoch is transitions + 1.
    const b = new LeaseLock({ api, namespace: NS, name, identity: "pod-b", leaseDurationMs: 1000 });
    assert.deepEqual(await b.acquire(signal()), { acquired: true, epoch: 2 });
    assert.equal(fake.lease(NS, name)?.spec?.leaseTransitions, 1);
  });

  it("a deleted and recreated Lease does not restart the epoch: the store's fence epoch is the floor", async () => {
    const name = freshName();
    // The store as the connector sees it: fenced by every term's epoch.
    let fenced = 0;
    const floor = async () => fenced;
    const term = async (identity: string) => {
      const lock = new LeaseLock({ api, namespace: NS, name, identity, leaseDurationMs: 1000, epochFloor: floor });
      const r = await lock.acquire(signal());
      assert.ok(r.acquired, JSON.stringify(r));
      fenced = Math.max(fenced, r.epoch);
      await lock.release(r.epoch, signal());
      return r.epoch;
    };
    assert.deepEqual([await term("pod-a"), await term("pod-b"), await term("pod-c")], [1, 2, 3]);
    assert.equal(fake.lease(NS, name)?.metadata.annotations?.["fixmesh.io/epoch"], "3", "the epoch is on the Lease");
    // Someone deletes the Lease: leaseTransitions starts again at 0, the epoch does not.
    assert.ok(fake.delete(NS, name));
    assert.equal(await term("pod-d"), 4, "above the store's 3, not 1 again");
    assert.equal(fake.lease(NS, name)?.spec?.leaseTransitions, 0);
    assert.equal(await term("pod-e"), 5);
  });

  it("a holder's epoch is the one on the Lease: a new term goes on from it even if leaseTransitions went back", async () => {
    const name = freshName();
    const a = new LeaseLock({ api, namespace: NS, name, identity: "pod-a", leaseDurationMs: 1000 });
    const b = new LeaseLock({ api, namespace: NS, name, identity: "pod-b", leaseDurationMs: 1000 });
    assert.deepEqual(await a.acquire(signal()), { acquired: true, epoch: 1 });
    await a.release(1, signal());
    assert.deepEqual(await b.acquire(signal()), { acquired: true, epoch: 2 });
    // An edit by hand sets leaseTransitions back; the holder keeps its term, the next term still goes up.
    fake.patch(NS, name, { leaseTransitions: 0 });
    assert.equal(await b.renew(2, signal()), true, "still the holder of epoch 2");
    await b.release(2, signal());
    assert.deepEqual(await a.acquire(signal()), { acquired: true, epoch: 3 });
  });

  it("release still releases a Lease that changed since its holder's last write (an abandoned renewal)", async () => {
    const name = freshName();
    const a = new LeaseLock({ api, namespace: NS, name, identity: "pod-a", leaseDurationMs: 1000 });
    assert.deepEqual(await a.acquire(signal()), { acquired: true, epoch: 1 });
    // A write the holder never saw the answer of: the version it holds is stale now.
    fake.patch(NS, name, { renewTime: "2030-01-01T00:00:00.000000Z" });
    await a.release(1, signal());
    assert.equal(fake.lease(NS, name)?.spec?.holderIdentity, "");
  });

  it("two standbys that read the same expired Lease: one wins, the other's replace is a 409 Conflict", async () => {
    const name = freshName();
    const first = new LeaseLock({ api, namespace: NS, name, identity: "pod-a", leaseDurationMs: 1000 });
    await first.acquire(signal());
    await first.release(1, signal());
    const b = new LeaseLock({ api, namespace: NS, name, identity: "pod-b", leaseDurationMs: 1000 });
    const c = new LeaseLock({ api, namespace: NS, name, identity: "pod-c", leaseDurationMs: 1000 });
    const conflicts = fake.conflicts.Conflict ?? 0;
    // Both GETs are held and answered together, so both replace from the same resourceVersion.
    fake.stall();
    const results = Promise.all([b.acquire(signal()), c.acquire(signal())]);
    await new Promise((r) => setTimeout(r, 50));
    fake.resume();
    const [rb, rc] = await results;
    assert.equal([rb, rc].filter((r) => r.acquired).length, 1, JSON.stringify([rb, rc]));
    assert.equal((fake.conflicts.Conflict ?? 0) - conflicts, 1);
    assert.equal(fake.lease(NS, name)?.spec?.leaseTransitions, 1);
  });

  it("a foreign write that leaves the holder alone (a label, an annotation) does not depose it", async () => {
    const name = freshName();
    const a = createElector({ kind: "lease", api, namespace: NS, name, identity: "pod-a", timing: SUITE_TIMING });
    try {
      a.start();
      while (!a.isLeader) await new Promise((r) => setTimeout(r, 5));
      fake.patch(NS, name, { note: "kubectl was here" });
      await new Promise((r) => setTimeout(r, 4 * SUITE_TIMING.retryPeriodMs));
      assert.equal(a.isLeader, true);
      assert.equal(fake.lease(NS, name)?.spec?.holderIdentity, "pod-a");
    } finally {
      await a.stop();
    }
  });

  it("a Lease taken by someone else behind the holder's back deposes it (lost) at its next renewal", async () => {
    const name = freshName();
    const a = createElector({ kind: "lease", api, namespace: NS, name, identity: "pod-a", timing: SUITE_TIMING });
    const deposed: string[] = [];
    a.on("deposed", (r) => deposed.push(r.code));
    try {
      a.start();
      while (!a.isLeader) await new Promise((r) => setTimeout(r, 5));
      fake.patch(NS, name, { holderIdentity: "pod-z", leaseTransitions: 7 });
      await new Promise((r) => setTimeout(r, 3 * SUITE_TIMING.retryPeriodMs));
      assert.deepEqual(deposed, [DeposeCode.Lost]);
      assert.equal(a.isLeader, false);
    } finally {
      await a.stop();
    }
  });

  it("an API server that answers with errors: the leader keeps trying and steps down at its renew deadline", async () => {
    const name = freshName();
    const a = createElector({ kind: "lease", api, namespace: NS, name, identity: "pod-a", timing: SUITE_TIMING });
    const deposed: Array<{ code: string; at: number }> = [];
    a.on("deposed", (r) => deposed.push({ code: r.code, at: performance.now() }));
    try {
      a.start();
      while (!a.isLeader) await new Promise((r) => setTimeout(r, 5));
      const t0 = performance.now();
      fake.failNext(1000, 500);
      await new Promise((r) => setTimeout(r, SUITE_TIMING.renewDeadlineMs + 200));
      assert.equal(deposed[0]?.code, DeposeCode.RenewDeadline);
      assert.ok(deposed[0].at - t0 <= SUITE_TIMING.renewDeadlineMs + 50);
    } finally {
      fake.failNext(0);
      await a.stop();
    }
  });
});
