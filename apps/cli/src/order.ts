/**
 * `fixmesh order submit|cancel|replace|get|list|watch`: an OrderEntryService client for people. Output is a table
 * (or one JSON object per line with --json). Errors print the gRPC status, the reason and the field, and exit 1
 * (2 for bad flags).
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { type Order, OrderStatus, OrderType, type OrderUpdate, RpcError, Side, TimeInForce } from "@fixmesh/contracts";
import { GRPC_CANCELLED, grpcStatusName, orderEntryClient, orderJson, updateJson } from "@fixmesh/order-entry";
import {
  CLI_TLS_OPTIONS,
  CLI_TLS_USAGE,
  type CliChannel,
  CliSecurityError,
  cliChannel,
  explainCallFailure,
} from "@fixmesh/security";

export const ORDER_USAGE = `  order     a client of a running order-entry (--address HOST:PORT, default $FIXMESH_ORDER_ENTRY or
            127.0.0.1:50061; --json for JSON lines)
            submit --session ID --account A --symbol S --side buy|sell|sell_short --qty N
                   [--type limit|market|stop|stop_limit] [--price P] [--stop P] [--tif day|gtc|ioc|fok]
                   [--key IDEMPOTENCY_KEY (default: a new one)]
            cancel  --order ID | --session ID --cl-ord-id C   [--key K]
            replace --order ID | --session ID --cl-ord-id C   [--qty N] [--price P] [--key K]
            get     --order ID | --session ID --cl-ord-id C
            list    [--session ID] [--account A] [--symbol S] [--open] [--limit N]
            watch   [--session ID] [--account A] [--from POSITION]   every update until Ctrl-C
            mass-cancel [--session ID] [--account A] [--symbol S] --reason TEXT   (an audited admin action)
${CLI_TLS_USAGE}`;

const OPTIONS = {
  address: { type: "string" },
  json: { type: "boolean", default: false },
  session: { type: "string" },
  account: { type: "string" },
  symbol: { type: "string" },
  side: { type: "string" },
  qty: { type: "string" },
  type: { type: "string", default: "limit" },
  price: { type: "string" },
  stop: { type: "string" },
  tif: { type: "string", default: "day" },
  key: { type: "string" },
  order: { type: "string" },
  "cl-ord-id": { type: "string" },
  open: { type: "boolean", default: false },
  limit: { type: "string", default: "100" },
  from: { type: "string" },
  timeout: { type: "string", default: "10000" },
  reason: { type: "string" },
  ...CLI_TLS_OPTIONS,
} as const;

class UsageError extends Error {}

function enumOf<E extends Record<string, string | number>>(e: E, flag: string, v: string): E[keyof E] {
  const n = (e as Record<string, unknown>)[v.toUpperCase()];
  if (typeof n !== "number" || n === 0) {
    const names = Object.keys(e)
      .filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED")
      .map((k) => k.toLowerCase());
    throw new UsageError(`--${flag}: "${v}" is not one of ${names.join(", ")}`);
  }
  return n as E[keyof E];
}

function need(v: string | undefined, flag: string): string {
  if (v === undefined || v === "") throw new UsageError(`--${flag} is required`);
  return v;
}

const COLUMNS = [
  "ORDER",
  "SESSION",
  "CLORDID",
  "ACCOUNT",
  "SYMBOL",
  "SIDE",
  "QTY",
  "PRICE",
  "STATUS",
  "CUM",
  "LEAVES",
  "AVGPX",
];

function row(o: Order): string[] {
  return [
    o.orderId,
    o.sessionId,
    o.clOrdId,
    o.account,
    o.symbol,
    Side[o.side] ?? "",
    o.quantity,
    o.price || (o.orderType === OrderType.MARKET ? "MKT" : ""),
    `${OrderStatus[o.status] ?? ""}${o.pending ? "*" : ""}`,
    o.cumQty,
    o.leavesQty,
    o.avgPx,
  ];
}

export function table(header: string[], rows: string[][], minWidths: readonly number[] = []): string {
  const w = header.map((h, i) => Math.max(h.length, minWidths[i] ?? 0, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (c ?? "").padEnd(w[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function printOrders(orders: Order[], json: boolean, out: (l: string) => void, extra?: Record<string, unknown>): void {
  if (json) {
    for (const o of orders) out(JSON.stringify({ ...(orderJson(o) as object), ...extra }));
    return;
  }
  out(table(COLUMNS, orders.map(row)));
  const o = orders[0];
  if (orders.length === 1 && o?.text) out(`text: ${o.text}`);
  if (extra?.replayed) out("(replayed: the answer of an earlier call with this idempotency key; nothing was sent)");
}

function describe(err: RpcError): string {
  const md = Object.entries(err.metadata)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return `${grpcStatusName(err.code)}${err.reason ? `/${err.reason}` : ""}: ${err.message}${md ? ` (${md})` : ""}`;
}

export async function runOrder(
  args: string[],
  io: { out: (l: string) => void; err: (l: string) => void } = {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
  },
): Promise<number> {
  const [sub, ...rest] = args;
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; args: string[]; strict: true }>>["values"];
  try {
    ({ values } = parseArgs({ args: rest, options: OPTIONS, strict: true }));
  } catch (e) {
    io.err(`fixmesh order: ${(e as Error).message}\n${ORDER_USAGE}`);
    return 2;
  }
  const address = values.address ?? process.env.FIXMESH_ORDER_ENTRY ?? "127.0.0.1:50061";
  // --tls-* / --token-file (or FIXMESH_TLS_*): plaintext without any, TLS with a CA, mTLS with a certificate.
  let channel: CliChannel;
  try {
    channel = cliChannel(values);
  } catch (e) {
    if (!(e instanceof CliSecurityError)) throw e;
    io.err(`fixmesh order: ${e.message}`);
    return 2;
  }
  const client = orderEntryClient(address, channel.credentials, channel.options);
  const rpc = client.rpc;
  const deadline = () => ({ deadline: Date.now() + Number(values.timeout) });
  const ref = () =>
    values.order
      ? { orderId: values.order }
      : {
          sessionId: need(values.session, "session (or --order)"),
          clOrdId: need(values["cl-ord-id"], "cl-ord-id (or --order)"),
        };
  try {
    switch (sub) {
      case "submit": {
        const type = enumOf(OrderType, "type", values.type);
        const r = await rpc.submitOrder(
          {
            idempotencyKey: values.key ?? randomUUID(),
            sessionId: need(values.session, "session"),
            account: need(values.account, "account"),
            symbol: need(values.symbol, "symbol"),
            side: enumOf(Side, "side", need(values.side, "side")),
            quantity: need(values.qty, "qty"),
            orderType: type,
            price: values.price ?? "",
            stopPrice: values.stop ?? "",
            timeInForce: enumOf(TimeInForce, "tif", values.tif),
          },
          deadline(),
        );
        printOrders(r.order ? [r.order] : [], values.json, io.out, { replayed: r.replayed });
        return 0;
      }
      case "cancel": {
        const r = await rpc.cancelOrder({ ...ref(), idempotencyKey: values.key ?? "" }, deadline());
        printOrders(r.order ? [r.order] : [], values.json, io.out, { replayed: r.replayed });
        return 0;
      }
      case "replace": {
        if (values.qty === undefined && values.price === undefined)
          throw new UsageError("--qty or --price is required");
        const r = await rpc.replaceOrder(
          { ...ref(), quantity: values.qty ?? "", price: values.price ?? "", idempotencyKey: values.key ?? "" },
          deadline(),
        );
        printOrders(r.order ? [r.order] : [], values.json, io.out, { replayed: r.replayed });
        return 0;
      }
      case "get": {
        const r = await rpc.getOrder(ref(), deadline());
        if (values.json || !r.order) printOrders(r.order ? [r.order] : [], values.json, io.out);
        else {
          printOrders([r.order], false, io.out);
          if (r.order.executions.length > 0) {
            io.out("");
            io.out(
              table(
                ["EXECID", "TYPE", "QTY", "PX", "SEQ"],
                r.order.executions.map((e) => [e.execId, e.execType, e.lastQty, e.lastPx, String(e.msgSeqNum)]),
              ),
            );
          }
        }
        return 0;
      }
      case "list": {
        const limit = Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError("--limit: a whole number ≥ 1");
        const orders: Order[] = [];
        let token = "";
        do {
          const r = await rpc.listOrders(
            {
              sessionId: values.session ?? "",
              account: values.account ?? "",
              symbol: values.symbol ?? "",
              openOnly: values.open,
              pageSize: Math.min(limit - orders.length, 1000),
              pageToken: token,
            },
            deadline(),
          );
          orders.push(...r.orders);
          token = r.nextPageToken;
        } while (token && orders.length < limit);
        printOrders(orders, values.json, io.out);
        return 0;
      }
      case "watch": {
        const from = values.from === undefined ? 0n : BigInt(values.from);
        const call = rpc.streamOrderUpdates({
          sessionId: values.session ?? "",
          account: values.account ?? "",
          fromPosition: from,
        });
        // Rows come one at a time: fixed column widths keep them aligned.
        const widths = [5, 15, 28, 21, 21, 8, 6, 10, 6, 8, 17, 6, 6, 8];
        if (!values.json) io.out(table(["POS", "CHANGE", ...COLUMNS], [], widths));
        return await new Promise<number>((resolve) => {
          call.on("data", (u: OrderUpdate) => {
            if (values.json) io.out(JSON.stringify(updateJson(u)));
            else if (u.order)
              io.out(
                table(["", "", ...COLUMNS], [[String(u.position), u.change, ...row(u.order)]], widths).split("\n")[1] ??
                  "",
              );
          });
          call.on("error", (e: Error) => {
            const err = RpcError.from(e);
            if (err.code === GRPC_CANCELLED) return resolve(0);
            const why = explainCallFailure(err, channel.mode);
            io.err(
              why === undefined
                ? `fixmesh order watch: ${describe(err)}`
                : `fixmesh order watch: ${address}: ${why}\n  (${err.message})`,
            );
            resolve(1);
          });
          call.on("end", () => resolve(0));
          process.once("SIGINT", () => call.cancel());
          process.once("SIGTERM", () => call.cancel());
        });
      }
      case "mass-cancel": {
        const r = await rpc.massCancel(
          {
            sessionId: values.session ?? "",
            account: values.account ?? "",
            symbol: values.symbol ?? "",
            reason: need(values.reason, "reason"),
          },
          deadline(),
        );
        if (values.json) {
          io.out(
            JSON.stringify({
              orderIds: r.orderIds,
              failures: r.failures.map((f) => ({ orderId: f.orderId, message: f.status?.message ?? "" })),
            }),
          );
        } else {
          io.out(`${r.orderIds.length} cancel(s) sent${r.orderIds.length > 0 ? `: ${r.orderIds.join(" ")}` : ""}`);
          for (const f of r.failures) io.out(`failed ${f.orderId}: ${f.status?.message ?? ""}`);
        }
        return r.failures.length === 0 ? 0 : 1;
      }
      default:
        io.err(`fixmesh order: unknown subcommand "${sub ?? ""}"\n${ORDER_USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`fixmesh order ${sub}: ${e.message}`);
      return 2;
    }
    const err = RpcError.from(e);
    if (values.json)
      io.out(
        JSON.stringify({
          error: { code: grpcStatusName(err.code), reason: err.reason, message: err.message, metadata: err.metadata },
        }),
      );
    // A connection or identity failure gets a line in the words of the flags, then grpc's own message.
    const why = explainCallFailure(err, channel.mode);
    io.err(
      why === undefined
        ? `fixmesh order ${sub}: ${describe(err)}`
        : `fixmesh order ${sub}: ${address}: ${why}\n  (${err.message})`,
    );
    return 1;
  } finally {
    client.close();
    channel.close();
  }
}
