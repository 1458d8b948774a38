/**
 * @fixmesh/engine — runs FIX sessions: sockets, timers and a message store around the pure session core.
 */

export {
  Acceptor,
  type AcceptorOptions,
  type DynamicSessionIds,
  LOGON_REFUSED_TEXT,
  type LogonRequest,
  type LogonVerdict,
  type Refusal,
} from "./acceptor.js";
export { AddressAllowList, AddressListError } from "./address-allow-list.js";
export { type HostPort, tcpConnector } from "./initiator.js";
export {
  type CommitInfo,
  type Connector,
  type FramedEvent,
  PersistFailedError,
  type RunnerLogger,
  SendRefusedError,
  type SendTrace,
  SessionAbortedError,
  type SessionApplication,
  type SessionHandle,
  SessionRunner,
  type SessionRunnerOptions,
  type SessionTracing,
} from "./runner.js";
