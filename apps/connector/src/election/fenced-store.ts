/**
 * The session's store as one leadership term uses it: opened under the term's epoch, and reporting at once a
 * write the store refused because a newer epoch fenced the session.
 */
import {
  type CommitBatch,
  type MessageStore,
  type OutboxEntry,
  StaleEpochError,
  type StoredMessage,
  type StoreState,
} from "@fixmesh/session";

export class FencedStore implements MessageStore {
  readonly kind: string;
  /** Set when the term ended: a refusal after that is no news. */
  private retired = false;

  constructor(
    private readonly inner: MessageStore,
    private readonly session: string,
    /** The term's epoch; null: no fencing (election `none`: the session keeps the store's epoch). */
    readonly epoch: number | null,
    private readonly onStale: (err: StaleEpochError) => void,
  ) {
    this.kind = inner.kind;
  }

  /**
   * Fences, then loads the state. The order matters: after `fence(epoch)` no older leader can write, so the state
   * read after it is final; read before, a deposed leader's last commit could still land behind it and its
   * sequence number be used twice. The first `open` only makes sure the session exists (a fence needs it).
   */
  async open(now: number): Promise<StoreState> {
    if (this.epoch === null) return this.inner.open(now);
    await this.inner.open(now);
    await this.guard(this.inner.fence(this.epoch));
    // `open` adopts the session's epoch: ours, unless a newer leader fenced between the two calls.
    const state = await this.inner.open(now);
    if (state.epoch !== this.epoch) {
      const err = new StaleEpochError(this.session, this.epoch, state.epoch);
      this.report(err);
      throw err;
    }
    return state;
  }

  fence(epoch: number): Promise<void> {
    return this.guard(this.inner.fence(epoch));
  }

  commit(batch: CommitBatch): Promise<readonly OutboxEntry[] | undefined> {
    return this.guard(this.inner.commit(batch));
  }

  setSafe(reason: string | null): Promise<void> {
    return this.guard(this.inner.setSafe(reason));
  }

  getRange(begin: number, end: number): Promise<StoredMessage[]> {
    return this.inner.getRange(begin, end);
  }

  reset(now: number, next?: { nextSenderSeq?: number; nextTargetSeq?: number }): Promise<StoreState> {
    return this.guard(this.inner.reset(now, next));
  }

  setSequences(nextSenderSeq: number, nextTargetSeq: number): Promise<void> {
    return this.guard(this.inner.setSequences(nextSenderSeq, nextTargetSeq));
  }

  trim(belowSeq: number): Promise<void> {
    return this.guard(this.inner.trim(belowSeq));
  }

  readOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.inner.readOutbox(limit);
  }

  ackOutbox(upToPos: number): Promise<void> {
    return this.guard(this.inner.ackOutbox(upToPos));
  }

  /** The store outlives the term (the standby keeps it open for the next one): nothing to close here. */
  async close(): Promise<void> {}

  /** Ends the term: later refusals are not reported. */
  retire(): void {
    this.retired = true;
  }

  private async guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof StaleEpochError) this.report(err);
      throw err;
    }
  }

  private report(err: StaleEpochError): void {
    if (!this.retired) this.onStale(err);
  }
}
