import { describe, expect, it } from "vitest";
import { fma32 } from "../../../gpu-fn/pipeline/noise/float32-math";
import { Mt19937 } from "../../../gpu-fn/pipeline/noise/mt19937";
import { effectiveSeed, torchRandn } from "../../../gpu-fn/pipeline/noise/torch-randn";
import { readCases, readSafetensors } from "./golden-files";

const golden = readSafetensors("cases/noise.safetensors");
const SEEDS = [0, 42, 4294967303];

function firstMismatch(a: Float32Array, b: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i] + 0, b[i] + 0)) return i;
  return -1;
}

describe("MT19937", () => {
  it("matches std::mt19937's 10000th output for the default seed 5489", () => {
    const engine = new Mt19937(5489);
    let v = 0;
    for (let i = 0; i < 10000; i++) v = engine.nextU32();
    expect(v).toBe(4123659995);
  });
});

describe("fma32", () => {
  it("rounds once where rounding a*b+c to double first would tie the wrong way", () => {
    const a = Math.fround(1 + 2 ** -23);
    const b = Math.fround(2 ** -24 * (1 - 2 ** -23)); // a*b = 2^-24 - 2^-70
    const c = Math.fround(1 + 2 ** -23); // odd last bit: a double-rounded tie would go up to even
    expect(Math.fround(a * b + c)).toBe(Math.fround(1 + 2 ** -22));
    expect(fma32(a, b, c)).toBe(c);
  });

  it("rounds exact ties to even", () => {
    expect(fma32(Math.fround(2 ** -24), 1, 1)).toBe(1);
    expect(fma32(Math.fround(2 ** -24), 3, 1)).toBe(Math.fround(1 + 2 ** -22));
  });
});

describe("torchRandn (bit-exact vs torch CPU, AVX2 kernel)", () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: shapes 5, 15, 17 and 1x16x8x8`, () => {
      for (const [name, numel] of [
        [`randn_5_seed${seed}`, 5],
        [`randn_15_seed${seed}`, 15],
        [`randn_17_seed${seed}`, 17],
        [`randn_1x16x8x8_seed${seed}`, 1024],
      ] as const) {
        const want = golden[name].data as Float32Array;
        const got = torchRandn(numel, seed);
        expect(got.length).toBe(want.length);
        expect(firstMismatch(got, want), name).toBe(-1);
      }
    });

    it(`seed ${seed}: 1x16x128x128, first 4096 values and exact sums of all 262144`, () => {
      const got = torchRandn(16 * 128 * 128, seed);
      const want = golden[`randn_1x16x128x128_seed${seed}_first4096`].data as Float32Array;
      expect(firstMismatch(got.subarray(0, 4096), want)).toBe(-1);
      const notes = readCases().cases.find((c) => c.name === "noise")?.notes as Record<string, number>;
      expect(exactSum(got, (x) => x)).toBe(notes[`sum_1x16x128x128_seed${seed}`]);
      expect(exactSum(got, Math.abs)).toBe(notes[`sum_abs_1x16x128x128_seed${seed}`]);
    });
  }

  it("uses seed mod 2^32 like torch.manual_seed", () => {
    expect(effectiveSeed(2 ** 32 + 7)).toBe(7);
    expect(torchRandn(64, 2 ** 32 + 7)).toEqual(torchRandn(64, 7));
  });
});

/** Exactly rounded float64 sum (like math.fsum): every float32 is an integer multiple of 2^-149. */
function exactSum(values: Float32Array, f: (x: number) => number): number {
  let acc = 0n;
  for (const v of values) acc += BigInt(f(v) * 2 ** 149);
  return bigToDouble(acc, 149);
}

/** Correctly rounded n / 2^fracBits. */
function bigToDouble(n: bigint, fracBits: number): number {
  const neg = n < 0n;
  let a = neg ? -n : n;
  if (a === 0n) return 0;
  const bits = a.toString(2).length;
  let exp = -fracBits;
  if (bits > 53) {
    const shift = BigInt(bits - 53);
    const rem = a & ((1n << shift) - 1n);
    a >>= shift;
    exp += Number(shift);
    const half = 1n << (shift - 1n);
    if (rem > half || (rem === half && (a & 1n) === 1n)) a += 1n;
  }
  const v = Number(a) * 2 ** exp;
  return neg ? -v : v;
}
