/** The `election` section of the connector's configuration: defaults, checks across fields, the environment. */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { describe, it } from "node:test";
import { ConnectorConfigError, parseConfig } from "../config/load.js";
import { leaseNameOf, redisLockKeyOf } from "./electors.js";

const SESSION = `
sessions:
  - { BeginString: FIX.4.4, SenderCompID: CLIENT, TargetCompID: VENUE, ConnectionType: initiator,
      initiator: { hosts: [{ host: 127.0.0.1, port: 9000 }] } }
`;
const TWO = `${SESSION}  - { BeginString: FIX.4.2, SenderCompID: CLIENT, TargetCompID: OTHER, ConnectionType: initiator,
      initiator: { hosts: [{ host: 127.0.0.1, port: 9001 }] } }
`;
const REDIS_STORE = "store: { kind: redis, redis: { url: redis://10.1.2.3:6379, prefix: fx } }\n";

/** The tests' files serve gRPC in plaintext on loopback, which a file must say (`grpc.plaintext`); added when absent. */
const plaintextGrpc = (text: string) => (/^grpc:/m.test(text) ? text : `${text}\ngrpc: { plaintext: true }\n`);

function parse(text: string, env: Record<string, string> = {}) {
  return parseConfig(plaintextGrpc(text), { env, cwd: "/work" });
}

function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parse(text, env);
  } catch (e) {
    assert.ok(e instanceof ConnectorConfigError, String(e));
    return e.issues.map((i) => `${i.field}: ${i.reason}`);
  }
  assert.fail("the configuration was accepted");
}

describe("config: election", () => {
  it("defaults to none, with client-go's three durations scaled for a FIX session, and <host>-<pid> as identity", () => {
    const e = parse(SESSION).election;
    assert.deepEqual(e, {
      kind: "none",
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 500,
      identity: `${hostname()}-${process.pid}`,
    });
  });

  it("redis: the lock lives in the store's Redis unless another URL is given", () => {
    const e = parse(
      `${REDIS_STORE}election: { kind: redis, leaseDuration: 1, renewDeadline: 0.6, retryPeriod: 0.1 }\n${SESSION}`,
    ).election;
    assert.equal(e.kind, "redis");
    assert.equal(e.leaseDurationMs, 1000);
    assert.equal(e.renewDeadlineMs, 600);
    assert.equal(e.retryPeriodMs, 100);
    assert.equal(e.redis?.url, "redis://10.1.2.3:6379");
    assert.equal(e.redis?.prefix, "fx");
    assert.equal(e.redis?.key, undefined);
    const other = parse(
      `${REDIS_STORE}election: { kind: redis, redis: { url: "redis://lock:6380", key: "x:{s}:l" } }\n${SESSION}`,
    ).election;
    assert.equal(other.redis?.url, "redis://lock:6380");
    assert.equal(other.redis?.key, "x:{s}:l");
  });

  it("each session's lock by default: the store's hash tag for Redis, a DNS name for a Lease", () => {
    assert.equal(redisLockKeyOf("fx", "FIX.4.4:CLIENT->VENUE"), "fx:{FIX.4.4:CLIENT->VENUE}:leader");
    assert.equal(leaseNameOf("FIX.4.4:CLIENT->VENUE"), "fixmesh-fix-4-4-client-venue");
  });

  it("refuses an election without a Redis store: a standby must see the leader's sequence numbers", () => {
    assert.deepEqual(problems(`election: { kind: redis }\n${SESSION}`), [
      "election.kind: redis needs store.kind: redis, so that a standby takes over the leader's sequence numbers (store.kind is file)",
    ]);
  });

  it("checks the durations as client-go does", () => {
    assert.deepEqual(
      problems(`${REDIS_STORE}election: { kind: redis, leaseDuration: 2, renewDeadline: 2 }\n${SESSION}`),
      [
        "election.renewDeadline: must be less than leaseDuration (2 s): a leader that cannot renew must step down before its lease can expire for the others",
      ],
    );
    assert.deepEqual(
      problems(
        `${REDIS_STORE}election: { kind: redis, leaseDuration: 3, renewDeadline: 1, retryPeriod: 1 }\n${SESSION}`,
      ),
      [
        "election.retryPeriod: must be less than renewDeadline / 1.2 (0.833 s), so a leader gets several tries to renew",
      ],
    );
    assert.deepEqual(problems(`election: { kind: raft }\n${SESSION}`).length, 1);
    assert.deepEqual(problems(`election: { leaseDurations: 3 }\n${SESSION}`), [
      "election.leaseDurations: unknown setting; did you mean leaseDuration?",
    ]);
  });

  it("one lock name is for one session: with several sessions each gets its own", () => {
    assert.deepEqual(problems(`${REDIS_STORE}election: { kind: redis, redis: { key: "k" } }\n${TWO}`), [
      "election.redis.key: names one lock, and this connector has several sessions: leave it out (each session locks <prefix>:{<session>}:leader)",
    ]);
  });

  it("lease: outside a pod the namespace and the API server are required", () => {
    assert.deepEqual(problems(`${REDIS_STORE}election: { kind: lease }\n${SESSION}`), [
      "election.lease.namespace: is required outside a Kubernetes pod",
      "election.lease.apiServer: is required outside a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)",
    ]);
  });

  it("lease: in a pod the API server comes from the environment; the name defaults per session", () => {
    const e = parse(`${REDIS_STORE}election: { kind: lease, lease: { namespace: trading } }\n${SESSION}`, {
      KUBERNETES_SERVICE_HOST: "10.96.0.1",
      KUBERNETES_SERVICE_PORT: "443",
    }).election;
    assert.equal(e.lease?.apiServer, "https://10.96.0.1:443");
    assert.equal(e.lease?.namespace, "trading");
    assert.equal(e.lease?.name, undefined);
    assert.deepEqual(
      problems(
        `${REDIS_STORE}election: { kind: lease, lease: { namespace: Trading, name: "a_b", apiServer: "x" } }\n${SESSION}`,
      ),
      [
        `election.lease.namespace: must be a namespace name (lower case letters, digits, '-'), got "Trading"`,
        `election.lease.name: must be a Kubernetes object name (lower case letters, digits, '-', '.'), got "a_b"`,
        `election.lease.apiServer: must be an https:// URL, got "x"`,
      ],
    );
  });

  it("the environment sets the kind, the identity and the Lease (a Deployment's pod spec)", () => {
    const e = parse(`${REDIS_STORE}${SESSION}`, {
      FIXMESH_ELECTION_KIND: "lease",
      FIXMESH_ELECTION_IDENTITY: "connector-7d9f-abcde",
      FIXMESH_LEASE_NAMESPACE: "trading",
      FIXMESH_LEASE_NAME: "venue-a",
      KUBERNETES_SERVICE_HOST: "10.96.0.1",
      KUBERNETES_SERVICE_PORT: "443",
    }).election;
    assert.equal(e.kind, "lease");
    assert.equal(e.identity, "connector-7d9f-abcde");
    assert.equal(e.lease?.name, "venue-a");
  });
});
