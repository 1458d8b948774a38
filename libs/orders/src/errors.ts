/** Errors a caller can act on, each with a stable `name`. */

/**
 * A FIX message could not be read as an ExecutionReport or OrderCancelReject: a required field is missing or a
 * number is not a FIX float. `tag` names the field at fault. `apply` turns this into a `rejected` outcome with the
 * code `malformed`; only the `…From` readers throw it.
 */
export class MalformedMessageError extends Error {
  override readonly name = "MalformedMessageError";
  constructor(
    readonly msgType: string,
    readonly tag: number,
    readonly detail: string,
  ) {
    super(`MsgType ${msgType}: tag ${tag} ${detail}`);
  }
}
