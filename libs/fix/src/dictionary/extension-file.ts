import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { DictionaryError, DictionaryErrorCode } from "./errors.js";
import { type DictionaryExtension, parseDictionaryExtension } from "./extension.js";

/**
 * Reads a dictionary extension from a YAML (`.yaml`, `.yml`) or JSON (`.json`) file and checks its shape.
 * The one function of this package that touches the file system; call it at startup, not per message.
 */
export function loadDictionaryExtension(path: string): DictionaryExtension {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new DictionaryError(DictionaryErrorCode.ExtensionFile, `cannot read ${path}`, { cause });
  }
  let value: unknown;
  try {
    value = extname(path).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new DictionaryError(DictionaryErrorCode.ExtensionFile, `${path} is not valid YAML/JSON: ${why}`, { cause });
  }
  try {
    return parseDictionaryExtension(value);
  } catch (cause) {
    if (cause instanceof DictionaryError) {
      throw new DictionaryError(cause.code, cause.message, { path: path, cause });
    }
    throw cause;
  }
}
