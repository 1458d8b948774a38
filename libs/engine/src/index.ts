/**
 * @fixmesh/engine — runs FIX sessions: sockets, timers and a message store around the pure session core.
 */

export { Acceptor, type AcceptorOptions } from "./acceptor.js";
export { type HostPort, tcpConnector } from "./initiator.js";
export {
  type CommitInfo,
  type Connector,
  type FramedEvent,
  PersistFailedError,
  type RunnerLogger,
  SendRefusedError,
  SessionAbortedError,
  type SessionApplication,
  type SessionHandle,
  SessionRunner,
  type SessionRunnerOptions,
} from "./runner.js";
