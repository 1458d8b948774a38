import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { SecurityConfigError } from "../errors.js";
import { Policy } from "./policy.js";

export interface PolicyStoreOptions {
  path: string;
  /** How often the file is read again. Default 5 s. */
  reloadMs?: number;
  /** Told about each reload: applied (ok) or refused with the reason (the old policy stays in force). */
  onReload?: (event: { ok: true; digest: string } | { ok: false; reason: string }) => void;
}

/**
 * The policy file, reloaded when its content changes. The first load throws (a service does not start on a bad
 * policy); a later bad edit is refused, reported once, and the policy in force stays — a typo must not open or
 * close everything.
 */
export class PolicyStore {
  private policy: Policy;
  private timer: NodeJS.Timeout | null = null;
  private lastText: string;
  private lastRefusal = "";

  constructor(private readonly opts: PolicyStoreOptions) {
    this.lastText = this.readText();
    this.policy = Policy.parse(this.lastText, opts.path);
    this.timer = setInterval(() => this.reload(), opts.reloadMs ?? 5000);
    this.timer.unref();
  }

  get current(): Policy {
    return this.policy;
  }

  /** Reads the file now (also done every reloadMs). Returns whether a new policy was applied. */
  reload(): boolean {
    let text: string;
    try {
      text = this.readText();
    } catch (e) {
      this.refuse(e instanceof Error ? e.message : String(e));
      return false;
    }
    if (text === this.lastText) return false;
    try {
      this.policy = Policy.parse(text, this.opts.path);
    } catch (e) {
      this.refuse(e instanceof Error ? e.message : String(e));
      return false;
    }
    this.lastText = text;
    this.lastRefusal = "";
    this.opts.onReload?.({ ok: true, digest: createHash("sha256").update(text).digest("hex").slice(0, 12) });
    return true;
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private refuse(reason: string): void {
    if (reason === this.lastRefusal) return;
    this.lastRefusal = reason;
    this.opts.onReload?.({ ok: false, reason });
  }

  private readText(): string {
    try {
      return readFileSync(this.opts.path, "utf8");
    } catch (e) {
      throw new SecurityConfigError(this.opts.path, e instanceof Error ? e.message : String(e));
    }
  }
}
