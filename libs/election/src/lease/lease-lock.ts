/**
 * The Kubernetes Lease backend, with client-go's rules (`tools/leaderelection` with a `LeaseLock`):
 *
 * - no Lease → create it holding it (a second creator gets 409 AlreadyExists and waits);
 * - a Lease held by someone else is taken only after it expired *as this process observed it*: leaseDuration
 *   after the moment this process last saw the record change (its resourceVersion), on this process's monotonic
 *   clock. The renewTime written in the record is never compared with our clock, so clock skew between pods does
 *   not matter. A released Lease (empty holderIdentity) is free at once;
 * - every write is a replace with the resourceVersion read: a concurrent writer makes it fail with 409 Conflict,
 *   so two standbys never both win;
 * - `leaseTransitions` goes up by one at every change of holder, and the fencing epoch is leaseTransitions + 1
 *   (the first holder, which creates the Lease with 0 transitions, fences with 1: above the 0 of a store no fence
 *   ever raised). Unlike client-go, a new instance that finds its own identity in the Lease (a restarted container
 *   keeps its host name and pid) does not resume that term: it waits for it to expire and takes a new one;
 * - release: holderIdentity emptied, leaseDurationSeconds 1 (as client-go's `ReleaseOnCancel`).
 *
 * The epoch must only grow, but `leaseTransitions` starts again at 0 when someone deletes the Lease (by hand, or
 * with its namespace): the store, fenced at 57 by the last leader, would refuse the next one's 1 for good. So each
 * term's epoch is written on the Lease (annotation `fixmesh.io/epoch`), and a new term takes the highest of
 * leaseTransitions + 1, that annotation + 1 and, with `epochFloor`, the store's fence epoch + 1 — the last one
 * being what survives a deleted Lease.
 */
import { type Clock, systemClock } from "../clock.js";
import type { AcquireResult, LeaderLock } from "../lock.js";
import { defaultIdentity } from "../none.js";
import {
  LEASE_API_VERSION,
  type Lease,
  LeaseApi,
  LeaseApiError,
  type LeaseApiOptions,
  microTime,
} from "./lease-api.js";

export interface LeaseLockOptions {
  /** The API client, or its options (the lock then closes the client it made). */
  api: LeaseApi | LeaseApiOptions;
  namespace: string;
  name: string;
  /** `holderIdentity`; default `<host name>-<pid>` (the pod's name on Kubernetes). */
  identity?: string;
  /** Written as `leaseDurationSeconds`, rounded up to whole seconds (the field's unit). */
  leaseDurationMs: number;
  /** Monotonic clock for expiry (default: the system's). */
  clock?: Clock;
  /** Wall clock for `acquireTime`/`renewTime`, which are informational (default Date.now). */
  wallClock?: () => number;
  /**
   * The highest epoch known to have been used — the store's fence epoch. Read before each new term, whose epoch
   * is then above it even when the Lease was deleted and recreated (leaseTransitions back to 0).
   */
  epochFloor?: (signal: AbortSignal) => Promise<number>;
}

/** The Lease annotation that carries the current term's fencing epoch. */
export const EPOCH_ANNOTATION = "fixmesh.io/epoch";

/** The epoch of the term a Lease records: its annotation, or (a Lease written by others) leaseTransitions + 1. */
export function epochOf(lease: Lease): number {
  const a = Number(lease.metadata.annotations?.[EPOCH_ANNOTATION]);
  return Number.isSafeInteger(a) && a > 0 ? a : (lease.spec?.leaseTransitions ?? 0) + 1;
}

export class LeaseLock implements LeaderLock {
  readonly kind = "lease";
  readonly identity: string;
  readonly name: string;
  private readonly api: LeaseApi;
  private readonly ownsApi: boolean;
  private readonly namespace: string;
  private readonly leaseName: string;
  private readonly durationSeconds: number;
  private readonly clock: Clock;
  private readonly wall: () => number;
  private readonly epochFloor: ((signal: AbortSignal) => Promise<number>) | undefined;
  /** The record we last saw, and when (monotonic) we first saw that version. */
  private observedVersion: string | undefined;
  private observedAt = 0;
  /** The Lease as our last write left it, while we hold it. */
  private held: { lease: Lease; epoch: number } | null = null;

  constructor(opts: LeaseLockOptions) {
    if (!Number.isFinite(opts.leaseDurationMs) || opts.leaseDurationMs <= 0) {
      throw new RangeError(`leaseDurationMs must be positive, got ${opts.leaseDurationMs}`);
    }
    if (!DNS_SUBDOMAIN.test(opts.name) || opts.name.length > 253) {
      throw new RangeError(`name must be a DNS subdomain name (lower case, digits, '-', '.'), got ${opts.name}`);
    }
    if (!DNS_LABEL.test(opts.namespace) || opts.namespace.length > 63) {
      throw new RangeError(`namespace must be a DNS label, got ${opts.namespace}`);
    }
    this.api = opts.api instanceof LeaseApi ? opts.api : new LeaseApi(opts.api);
    this.ownsApi = !(opts.api instanceof LeaseApi);
    this.namespace = opts.namespace;
    this.leaseName = opts.name;
    this.name = `${opts.namespace}/${opts.name}`;
    this.identity = opts.identity ?? defaultIdentity();
    if (this.identity === "") throw new RangeError("identity must not be empty");
    this.durationSeconds = Math.ceil(opts.leaseDurationMs / 1000);
    this.clock = opts.clock ?? systemClock;
    this.wall = opts.wallClock ?? Date.now;
    this.epochFloor = opts.epochFloor;
  }

  /** A new term's epoch: above the Lease's count, the last term's epoch and what the store has seen. */
  private async nextEpoch(transitions: number, previous: number, signal: AbortSignal): Promise<number> {
    const floor = this.epochFloor === undefined ? 0 : await this.epochFloor(signal);
    return Math.max(transitions + 1, previous + 1, floor + 1);
  }

  async acquire(signal: AbortSignal): Promise<AcquireResult> {
    this.held = null;
    const lease = await this.api.get(this.namespace, this.leaseName, signal);
    if (lease === null) return this.create(signal);
    this.observe(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const validFor = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== "" && this.clock.now() < this.observedAt + validFor) return { acquired: false, holder };
    // Expired or released: take it, a change of holder.
    const transitions = (spec.leaseTransitions ?? 0) + 1;
    const epoch = await this.nextEpoch(transitions, epochOf(lease), signal);
    const now = microTime(this.wall());
    const next: Lease = {
      ...lease,
      metadata: withEpoch(lease.metadata, epoch),
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: this.durationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: transitions,
      },
    };
    try {
      const written = await this.api.replace(this.namespace, this.leaseName, next, signal);
      this.observe(written);
      this.held = { lease: written, epoch };
      return { acquired: true, epoch };
    } catch (e) {
      // Another standby wrote first (409 Conflict), or the Lease was deleted meanwhile (404): not ours.
      if (e instanceof LeaseApiError && (e.status === 409 || e.status === 404)) return { acquired: false, holder };
      throw e;
    }
  }

  async renew(epoch: number, signal: AbortSignal): Promise<boolean> {
    const held = this.held;
    if (held === null || held.epoch !== epoch) return false;
    for (let attempt = 0; ; attempt++) {
      const base = this.held?.lease ?? held.lease;
      const next: Lease = {
        ...base,
        spec: { ...base.spec, renewTime: microTime(this.wall()), leaseDurationSeconds: this.durationSeconds },
      };
      try {
        const written = await this.api.replace(this.namespace, this.leaseName, next, signal);
        this.observe(written);
        this.held = { lease: written, epoch };
        return true;
      } catch (e) {
        if (!(e instanceof LeaseApiError)) throw e;
        if (e.status === 404) return this.lose();
        if (e.status !== 409) throw e;
      }
      // 409: the Lease changed under us. Still ours (someone labelled it, say)? Then once more with its version.
      const now = await this.api.get(this.namespace, this.leaseName, signal);
      if (now === null || !this.isOurs(now, epoch)) return this.lose();
      this.held = { lease: now, epoch };
      if (attempt >= 1) throw new LeaseApiError(409, "Conflict", "the Lease keeps changing under its holder");
    }
  }

  async release(epoch: number, signal: AbortSignal): Promise<void> {
    const held = this.held;
    if (held === null || held.epoch !== epoch) return;
    this.held = null;
    let base = held.lease;
    for (let attempt = 0; attempt < 2; attempt++) {
      const now = microTime(this.wall());
      const next: Lease = {
        ...base,
        spec: { ...base.spec, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
      };
      try {
        await this.api.replace(this.namespace, this.leaseName, next, signal);
        return;
      } catch (e) {
        if (!(e instanceof LeaseApiError)) throw e;
        if (e.status === 404) return;
        if (e.status !== 409) throw e;
      }
      // 409: the Lease changed since our last write — a renewal whose answer we abandoned (stop aborts the call
      // in flight) still went through, say. Still ours? Then release that version; someone else's: not ours to give.
      const current = await this.api.get(this.namespace, this.leaseName, signal);
      if (current === null || !this.isOurs(current, epoch)) return;
      base = current;
    }
  }

  async close(): Promise<void> {
    if (this.ownsApi) this.api.close();
  }

  private async create(signal: AbortSignal): Promise<AcquireResult> {
    // A Lease created anew may follow a deleted one: only the store remembers the epochs used before.
    const epoch = await this.nextEpoch(0, 0, signal);
    const now = microTime(this.wall());
    const lease: Lease = {
      apiVersion: LEASE_API_VERSION,
      kind: "Lease",
      metadata: { name: this.leaseName, namespace: this.namespace, annotations: { [EPOCH_ANNOTATION]: String(epoch) } },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.durationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
    try {
      const written = await this.api.create(this.namespace, lease, signal);
      this.observe(written);
      this.held = { lease: written, epoch };
      return { acquired: true, epoch };
    } catch (e) {
      if (e instanceof LeaseApiError && e.status === 409) return { acquired: false, holder: "" };
      throw e;
    }
  }

  private isOurs(lease: Lease, epoch: number): boolean {
    const spec = lease.spec ?? {};
    return spec.holderIdentity === this.identity && epochOf(lease) === epoch;
  }

  private lose(): false {
    this.held = null;
    return false;
  }

  /** Notes when the record last changed, by this process's clock: the start of its lease as we see it. */
  private observe(lease: Lease): void {
    const v = lease.metadata.resourceVersion;
    if (v !== this.observedVersion) {
      this.observedVersion = v;
      this.observedAt = this.clock.now();
    }
  }
}

function withEpoch(metadata: Lease["metadata"], epoch: number): Lease["metadata"] {
  return { ...metadata, annotations: { ...metadata.annotations, [EPOCH_ANNOTATION]: String(epoch) } };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
