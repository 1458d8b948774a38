/**
 * Exact decimals for quantities and prices. FIX sends them as text (`100`, `12.375`); summing them as floats drifts
 * (0.1 + 0.2), and a CumQty that drifts by 1e-16 no longer equals OrderQty. A value here is a bigint coefficient and a
 * count of fractional digits: `12.375` is `12375n` with scale 3. Add, subtract, multiply and compare are exact;
 * division (only for AvgPx) rounds half-even to a stated number of digits.
 */

/** The syntax of a FIX float (Qty, Price, PriceOffset): optional sign, digits, optional point and digits. No exponent. */
const FIX_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)$/;

const TEN = 10n;

function pow10(n: number): bigint {
  return TEN ** BigInt(n);
}

export class Decimal {
  static readonly ZERO = new Decimal(0n, 0);

  /** The value is `coef × 10^-scale`. */
  readonly coef: bigint;
  /** Fractional digits as written (kept, so a reported value's precision is known). */
  readonly scale: number;

  private constructor(coef: bigint, scale: number) {
    this.coef = coef;
    this.scale = scale;
  }

  /** Parses a FIX float; undefined when `text` is not one. */
  static parse(text: string): Decimal | undefined {
    if (!FIX_FLOAT.test(text)) return undefined;
    const negative = text.charCodeAt(0) === 45; // '-'
    const unsigned = text.charCodeAt(0) === 45 || text.charCodeAt(0) === 43 ? text.slice(1) : text;
    const point = unsigned.indexOf(".");
    const whole = point < 0 ? unsigned : unsigned.slice(0, point);
    const frac = point < 0 ? "" : unsigned.slice(point + 1);
    const coef = BigInt((whole || "0") + frac);
    return new Decimal(negative ? -coef : coef, frac.length);
  }

  /** Parses a FIX float and throws a RangeError when it is not one (for values already validated at the edge). */
  static of(text: string): Decimal {
    const d = Decimal.parse(text);
    if (d === undefined) throw new RangeError(`not a decimal: ${JSON.stringify(text)}`);
    return d;
  }

  static fromBigInt(coef: bigint, scale = 0): Decimal {
    return new Decimal(coef, scale);
  }

  private at(scale: number): bigint {
    return this.coef * pow10(scale - this.scale);
  }

  add(o: Decimal): Decimal {
    const s = Math.max(this.scale, o.scale);
    return new Decimal(this.at(s) + o.at(s), s);
  }

  sub(o: Decimal): Decimal {
    const s = Math.max(this.scale, o.scale);
    return new Decimal(this.at(s) - o.at(s), s);
  }

  mul(o: Decimal): Decimal {
    return new Decimal(this.coef * o.coef, this.scale + o.scale);
  }

  neg(): Decimal {
    return new Decimal(-this.coef, this.scale);
  }

  abs(): Decimal {
    return this.coef < 0n ? this.neg() : this;
  }

  /** -1, 0 or 1. */
  cmp(o: Decimal): number {
    const s = Math.max(this.scale, o.scale);
    const a = this.at(s);
    const b = o.at(s);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  eq(o: Decimal): boolean {
    return this.cmp(o) === 0;
  }

  lt(o: Decimal): boolean {
    return this.cmp(o) < 0;
  }

  gt(o: Decimal): boolean {
    return this.cmp(o) > 0;
  }

  isZero(): boolean {
    return this.coef === 0n;
  }

  isNegative(): boolean {
    return this.coef < 0n;
  }

  isPositive(): boolean {
    return this.coef > 0n;
  }

  /** `this / divisor`, rounded half-even to `digits` fractional digits. Throws RangeError on a zero divisor. */
  div(divisor: Decimal, digits: number): Decimal {
    if (divisor.coef === 0n) throw new RangeError("division by zero");
    // this/divisor = (a·10^-sa)/(b·10^-sb); scaled by 10^digits: a·10^(digits+sb) / (b·10^sa).
    let num = this.coef * pow10(digits + divisor.scale);
    let den = divisor.coef * pow10(this.scale);
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    let q = num / den;
    const r = num - q * den; // same sign as num
    const twice = (r < 0n ? -r : r) * 2n;
    if (twice > den || (twice === den && q % 2n !== 0n)) q += num < 0n ? -1n : 1n;
    return new Decimal(q, digits);
  }

  /** Half a unit in the last written place: the rounding a sender may have applied to this value. */
  halfUlp(): Decimal {
    return new Decimal(5n, this.scale + 1);
  }

  /** Canonical text: no exponent, no trailing fractional zeros, no `-0`. */
  toString(): string {
    let coef = this.coef;
    let scale = this.scale;
    while (scale > 0 && coef % TEN === 0n) {
      coef /= TEN;
      scale--;
    }
    const negative = coef < 0n;
    const digits = (negative ? -coef : coef).toString();
    if (scale === 0) return negative ? `-${digits}` : digits;
    const padded = digits.padStart(scale + 1, "0");
    const text = `${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
    return negative ? `-${text}` : text;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Canonical text of a FIX float (`"100.50"` → `"100.5"`), or undefined when it is not one. */
export function canonical(text: string): string | undefined {
  return Decimal.parse(text)?.toString();
}
