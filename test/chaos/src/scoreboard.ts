/** One row of the suite's closing table: what a scenario did and whether the system converged. */
export interface Row {
  scenario: string;
  orders: number;
  executions: number;
  /** Reports our order store dropped as already applied (session + ExecID). */
  duplicatesDropped: number;
  /** Resent copies our session layer dropped before the application (PossDupFlag=Y, MsgSeqNum already seen). */
  sessionDuplicates: number;
  gapsRecovered: number;
  /** From the fault (or its end) to LIVE and converged; null when the scenario has no recovery to time. */
  recoverMs: number | null;
  converged: boolean;
  /** Anything else worth a glance (rate, detection time, SAFE reason). */
  note: string;
}

const HEAD = ["scenario", "orders", "executions", "dups dropped", "gaps recovered", "time to recover", "converged"];

/** Collects rows as scenarios finish and renders them as a table (Markdown pipes, so it pastes anywhere). */
export class Scoreboard {
  private readonly rows: Row[] = [];
  private readonly started = Date.now();

  row(scenario: string): Row {
    const r: Row = {
      scenario,
      orders: 0,
      executions: 0,
      duplicatesDropped: 0,
      sessionDuplicates: 0,
      gapsRecovered: 0,
      recoverMs: null,
      converged: false,
      note: "",
    };
    this.rows.push(r);
    return r;
  }

  lines(): string[] {
    const cells = this.rows.map((r) => [
      r.scenario,
      fmt(r.orders),
      fmt(r.executions),
      r.sessionDuplicates === 0
        ? fmt(r.duplicatesDropped)
        : `${fmt(r.duplicatesDropped)} (+${fmt(r.sessionDuplicates)})`,
      fmt(r.gapsRecovered),
      r.recoverMs === null ? "—" : `${(r.recoverMs / 1000).toFixed(2)} s`,
      r.converged ? "yes" : "NO",
    ]);
    const widths = HEAD.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
    const line = (c: string[]) =>
      `| ${c.map((v, i) => (i === 0 || i === c.length - 1 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join(" | ")} |`;
    const total = ((Date.now() - this.started) / 1000).toFixed(1);
    return [
      "dups dropped: by our order store (session + ExecID); (+n): resent copies our session ignored (MsgSeqNum seen)",
      `chaos suite: ${this.rows.length} scenarios, ${this.rows.filter((r) => r.converged).length} converged, ${total} s`,
      line(HEAD),
      `|${widths.map((w, i) => (i === 0 || i === widths.length - 1 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`,
      ...cells.map(line),
      ...this.rows.filter((r) => r.note !== "").map((r) => `${r.scenario}: ${r.note}`),
    ];
  }
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}
