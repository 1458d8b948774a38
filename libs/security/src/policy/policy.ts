import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { SecurityConfigError } from "../errors.js";
import { ANY, type Grant } from "../grants.js";
import { type PolicyDocument, type PrincipalLimits, policySchema, type RoleGrants } from "./schema.js";

/** Everything one principal may do: the union of every entry (and role) that matches it. */
interface Effective {
  grants: RoleGrants[];
  limits: PrincipalLimits | undefined;
}

/** A `*` glob as a RegExp: `*` is any run of characters, everything else literal. */
function globRegExp(p: string): RegExp {
  return new RegExp(`^${p.split("*").map(escapeRe).join(".*")}$`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A validated policy: answers whether a principal holds a grant. A request for `ANY` (every account, every
 * session) is covered only by a pattern that is exactly `*` — `ACC*` does not let a caller act on all accounts.
 */
export class Policy {
  readonly digest: string;
  private readonly compiled = new Map<string, RegExp>();
  private readonly byPrincipal = new Map<string, Effective>();

  constructor(
    readonly doc: PolicyDocument,
    digest = "",
  ) {
    this.digest = digest;
  }

  /** Parses and validates YAML text; throws SecurityConfigError naming the path of the first bad field. */
  static parse(text: string, source = "policy"): Policy {
    let raw: unknown;
    try {
      raw = parseYaml(text);
    } catch (e) {
      throw new SecurityConfigError(source, `is not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
    }
    const r = policySchema.safeParse(raw);
    if (!r.success) {
      const msgs = r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "(top)"}: ${i.message}`);
      throw new SecurityConfigError(source, msgs.join("; "));
    }
    return new Policy(r.data, createHash("sha256").update(text).digest("hex"));
  }

  static load(path: string): Policy {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new SecurityConfigError(path, e instanceof Error ? e.message : String(e));
    }
    return Policy.parse(text, path);
  }

  /** Whether `principal` holds `g`. */
  allows(principal: string, g: Grant): boolean {
    const eff = this.effective(principal);
    for (const r of eff.grants) if (this.grantIn(r, g)) return true;
    return false;
  }

  /** The limits of the first matching entry that sets some. */
  limitsOf(principal: string): PrincipalLimits | undefined {
    return this.effective(principal).limits;
  }

  /** Whether any entry matches `principal` (an unknown principal holds nothing). */
  knows(principal: string): boolean {
    return this.effective(principal).grants.length > 0;
  }

  private effective(principal: string): Effective {
    let e = this.byPrincipal.get(principal);
    if (e !== undefined) return e;
    e = { grants: [], limits: undefined };
    for (const p of this.doc.principals) {
      if (!this.match(p.match, principal)) continue;
      e.grants.push(p);
      for (const r of p.roles ?? []) e.grants.push(this.doc.roles[r]);
      e.limits ??= p.limits;
    }
    // Bounded: principals are authenticated identities, but a JWT issuer could mint many subjects.
    if (this.byPrincipal.size > 10_000) this.byPrincipal.clear();
    this.byPrincipal.set(principal, e);
    return e;
  }

  private match(pattern: string, value: string): boolean {
    if (value === ANY) return pattern === "*";
    if (!pattern.includes("*")) return pattern === value;
    let re = this.compiled.get(pattern);
    if (re === undefined) {
      re = globRegExp(pattern);
      this.compiled.set(pattern, re);
    }
    return re.test(value);
  }

  private any(patterns: readonly string[] | undefined, value: string): boolean {
    return patterns?.some((p) => this.match(p, value)) === true;
  }

  private grantIn(r: RoleGrants, g: Grant): boolean {
    switch (g.kind) {
      case "trade":
        return (r.trade ?? []).some((t) => this.any(t.sessions, g.session) && this.any(t.accounts, g.account));
      case "stream":
        return this.any(r.stream, g.session);
      case "read":
        return this.any(r.read, g.session);
      case "audit":
        return r.audit === true;
      case "admin":
        return (r.admin ?? []).some(
          (a) =>
            (a.actions.includes("*") || a.actions.includes(g.action as never)) && this.any(a.resources, g.resource),
        );
    }
  }
}
