/**
 * @fixmesh/election/testing — for tests of this package and of its users: an HTTP server with the Kubernetes
 * Lease API's semantics, a fake clock, and an in-memory lock.
 */
export { FakeClock, settle } from "./fake-clock.js";
export { FakeLeaseApi, type FakeLeaseApiOptions } from "./fake-lease-api.js";
export { MemoryLock, MemoryLockTable } from "./memory-lock.js";
