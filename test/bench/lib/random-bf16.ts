/**
 * Random BF16 bits for synthetic full-size checkpoints (xorshift32): random sign and mantissa, and one of 8
 * consecutive biased exponents from `lowestExponent`, so the values are finite and weight-like.
 * @param state - the generator state, advanced in place (so successive calls continue one stream)
 * @param lowestExponent - biased BF16 exponent of the smallest magnitude (0x76: |x| in 2^-9..2^-1; 0x77: 2^-8..2^-1)
 */
export function randomBf16(n: number, state: { s: number }, lowestExponent: number): Uint8Array {
  const out = new Uint16Array(n);
  let s = state.s;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s & 0x807f) | ((lowestExponent + ((s >>> 7) & 7)) << 7);
  }
  state.s = s;
  return new Uint8Array(out.buffer);
}
