/**
 * The shape of a data dictionary as data: what `scripts/generate-dictionaries.mjs` writes into `src/gen/*.ts`
 * from the QuickFIX spec XML, and what an extension is merged into. Compact on purpose (FIX 5.0 SP2 has 6,000
 * fields and 725 components): arrays instead of objects, components referenced by name.
 */

/**
 * One item of a message, component, group, header or trailer, in spec order:
 * - a field number, negative when the XML marks the field required (`-11` is a required ClOrdID);
 * - a component name, with a leading `-` when the component is marked required (`"-Instrument"`);
 * - a repeating group: `[countTag, ...members]`, the NumInGroup tag negative when the group is marked
 *   required; the first member is the group's delimiter.
 */
export type SpecEntry = number | string | readonly SpecEntry[];

/** `[number, name, typeIndex]` or `[number, name, typeIndex, enums]`; enums are flat: value, description, … */
export type SpecField =
  | readonly [number: number, name: string, type: number]
  | readonly [number: number, name: string, type: number, enums: readonly string[]];

/** `[name, msgType, category, entries]`. */
export type SpecMessage = readonly [
  name: string,
  msgType: string,
  category: "admin" | "app",
  entries: readonly SpecEntry[],
];

/** `[name, entries]`. */
export type SpecComponent = readonly [name: string, entries: readonly SpecEntry[]];

export interface SpecData {
  /** `FIX.4.4`, `FIXT.1.1`, `FIX.5.0SP2`, … (for FIX 5.0 and later, the application version). */
  readonly beginString: string;
  /** Type names (`STRING`, `INT`, …) that `SpecField` refers to by index. */
  readonly types: readonly string[];
  /** Every field, by ascending number. */
  readonly fields: readonly SpecField[];
  readonly header: readonly SpecEntry[];
  readonly trailer: readonly SpecEntry[];
  readonly components: readonly SpecComponent[];
  readonly messages: readonly SpecMessage[];
}
