/** Why a dictionary could not be loaded, extended or used to encode. */
export const DictionaryErrorCode = {
  /** No dictionary for this BeginString / ApplVerID. */
  UnknownVersion: "UnknownVersion",
  /** A spec or extension refers to something that does not exist, or is malformed. */
  InvalidSpec: "InvalidSpec",
  /** An extension file could not be read or parsed. */
  ExtensionFile: "ExtensionFile",
  /** Encoding a repeating group met a field that is not a member, or an entry without its delimiter. */
  InvalidGroup: "InvalidGroup",
} as const;
export type DictionaryErrorCode = (typeof DictionaryErrorCode)[keyof typeof DictionaryErrorCode];

export class DictionaryError extends Error {
  override readonly name = "DictionaryError";
  readonly code: DictionaryErrorCode;
  /** Where in the spec or extension the problem is (`messages.D.fields[2]`), when known. */
  readonly path: string | undefined;

  constructor(code: DictionaryErrorCode, message: string, options?: { path?: string; cause?: unknown }) {
    super(options?.path ? `${options.path}: ${message}` : message, { cause: options?.cause });
    this.code = code;
    this.path = options?.path;
  }
}
