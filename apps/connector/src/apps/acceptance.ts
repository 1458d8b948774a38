/**
 * The acceptance-test application: what QuickFIX's `at` server runs behind its sessions, so the QuickFIX
 * session-layer acceptance scripts can drive a connector. It echoes NewOrderSingle(D), SecurityDefinition(d)
 * and Email(C), and refuses any other application message as unsupported: BusinessMessageReject(j) from
 * FIX 4.2 on, session Reject(3) before.
 */
import type { RunnerLogger, SessionApplication, SessionHandle } from "@fixmesh/engine";
import { type Dictionary, type FieldList, type FixMessage, MsgType, sortFieldsForEcho, Tag } from "@fixmesh/fix";
import { businessRejectFor } from "@fixmesh/session";

/**
 * The acceptance application for a session whose messages follow `dict`. A send the session refuses (it logged
 * out in the meantime) is reported to `log` when one is given: the script that caused it has moved on.
 */
export function acceptanceApp(dict: Dictionary, log?: RunnerLogger): SessionApplication {
  const seenClOrdIds = new Set<string>();
  const failed = (session: SessionHandle, what: string) => (err: unknown) =>
    log?.warn({ session: session.id, err: err instanceof Error ? err.message : String(err) }, `${what} not sent`);
  return {
    onMessage(msg: FixMessage, session: SessionHandle) {
      const t = msg.msgType;
      if (t === MsgType.NewOrderSingle || t === MsgType.SecurityDefinition || t === MsgType.Email) {
        if (t === MsgType.NewOrderSingle) {
          const id = msg.get(Tag.ClOrdID) ?? "";
          // 19a: a possible resend of an order already seen is ignored by the application.
          if (msg.flag(Tag.PossResend) && seenClOrdIds.has(id)) return;
          seenClOrdIds.add(id);
        }
        const echo = sortFieldsForEcho(msg, dict);
        // An echo is the message sent again: restamped header, PossDupFlag/OrigSendingTime dropped.
        const header = dropPairs(echo.header, [Tag.PossDupFlag, Tag.OrigSendingTime]);
        session.send(t, echo.body, header).catch(failed(session, "echo"));
        return;
      }
      const bs = session.state.settings.BeginString;
      if (bs >= "FIX.4.2") {
        const r = businessRejectFor(session.state, msg, 3, "Unsupported Message Type");
        const applVerId = session.state.settings.DefaultApplVerID;
        if (bs === "FIXT.1.1" && applVerId !== undefined) r.body.push(Tag.DefaultApplVerID, applVerId);
        session.send(MsgType.BusinessMessageReject, r.body, r.header).catch(failed(session, "BusinessMessageReject"));
      } else {
        const seq = msg.get(Tag.MsgSeqNum) ?? "";
        session
          .send(MsgType.Reject, [Tag.RefSeqNum, seq, Tag.Text, "Unsupported message type"])
          .catch(failed(session, "Reject"));
      }
    },
    onNotice(n) {
      if (n.kind === "logout") seenClOrdIds.clear();
    },
  };
}

function dropPairs(list: FieldList, tags: number[]): FieldList {
  const out: FieldList = [];
  for (let i = 0; i < list.length; i += 2) if (!tags.includes(list[i] as number)) out.push(list[i], list[i + 1]);
  return out;
}
