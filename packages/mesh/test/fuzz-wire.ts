/**
 * Arbitrary protobuf wire data for fuzz tests: fields of any number and wire type, nested at
 * random, so decoders see well-framed but ill-typed messages as well as plain noise.
 */
import fc from "fast-check";

/** Protobuf wire encoding of arbitrary fields (any number, any wire type), nested at random. */
function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
export type WireField =
  | { n: number; t: 0; v: bigint }
  | { n: number; t: 1 | 5; v: Uint8Array }
  | { n: number; t: 2; v: Uint8Array | WireField[] };
export function wire(fields: readonly WireField[]): Uint8Array {
  const out: number[] = [];
  for (const f of fields) {
    out.push(...varint(BigInt((f.n << 3) | f.t)));
    if (f.t === 0) out.push(...varint(f.v));
    else if (f.t === 2) {
      const body = f.v instanceof Uint8Array ? f.v : wire(f.v);
      out.push(...varint(BigInt(body.length)), ...body);
    } else out.push(...f.v.subarray(0, f.t === 1 ? 8 : 4));
  }
  return Uint8Array.from(out);
}
export const wireFields: fc.Arbitrary<WireField[]> = fc.letrec<{ msg: WireField[] }>((tie) => ({
  msg: fc.array(
    fc.oneof(
      fc.record({ n: fc.integer({ min: 1, max: 9 }), t: fc.constant(0 as const), v: fc.bigInt() }),
      fc.record({
        n: fc.integer({ min: 1, max: 9 }),
        t: fc.constantFrom(1 as const, 5 as const),
        v: fc.uint8Array({ minLength: 8, maxLength: 8 }),
      }),
      fc.record({
        n: fc.integer({ min: 1, max: 9 }),
        t: fc.constant(2 as const),
        v: fc.uint8Array({ maxLength: 24 }),
      }),
      fc.record({ n: fc.integer({ min: 1, max: 9 }), t: fc.constant(2 as const), v: tie("msg") }),
    ),
    { maxLength: 6, depthIdentifier: "wire" },
  ),
})).msg;
