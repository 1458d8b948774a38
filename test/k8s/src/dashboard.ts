/** The Grafana dashboard: its queries, wherever they sit in the JSON model. */

/** Every PromQL text of a dashboard: panel targets (rows' panels included) and query variables. */
export function dashboardQueries(dashboard: unknown): string[] {
  const out: string[] = [];
  const d = dashboard as {
    panels?: Panel[];
    templating?: { list?: Array<{ type?: string; query?: string | { query?: string }; definition?: string }> };
  };
  interface Panel {
    panels?: Panel[];
    targets?: Array<{ expr?: string }>;
  }
  const walk = (panels: Panel[] | undefined): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (typeof t.expr === "string") out.push(t.expr);
      walk(p.panels);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    if (q) out.push(q);
    if (v.definition) out.push(v.definition);
  }
  return out;
}

/** How many panels (not rows) the dashboard has. */
export function panelCount(dashboard: unknown): number {
  interface Panel {
    type?: string;
    panels?: Panel[];
  }
  const count = (ps: Panel[] | undefined): number =>
    (ps ?? []).reduce((n, p) => n + (p.type === "row" ? 0 : 1) + count(p.panels), 0);
  return count((dashboard as { panels?: Panel[] }).panels);
}
