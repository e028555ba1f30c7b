/**
 * `torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)` on the CPU, bit for bit
 * (AVX2 kernel). Algorithm: test/fixtures/golden/tiny-a/README.md §5(f).
 * @module
 */
import { log256, sincos256 } from "./avx2-mathfun";
import { fl } from "./float32-math";
import { Mt19937 } from "./mt19937";

const TWO_PI_F32 = fl(2 * Math.PI);
const TWO_POW_M24 = 2 ** -24;
const TWO_POW_M53 = 2 ** -53;

/** Standard normal float32 values in C order, exactly as torch's CPU generator produces them. */
export function torchRandn(numel: number, seed: number): Float32Array {
  return new TorchGenerator(seed).randn(numel);
}

/**
 * `torch.Generator().manual_seed(seed)` used for several draws in a row, e.g. img2img's posterior ε and then the
 * noise (golden README §9.3: two consecutive randn calls on one generator). Shapes below 16 elements take the
 * serial path, which in torch keeps an odd normal cached in the generator; that cache is not emulated, so a
 * draw after an odd serial draw is refused rather than silently wrong.
 */
export class TorchGenerator {
  readonly #engine: Mt19937;
  #oddSerialDraw = false;

  constructor(seed: number) {
    this.#engine = new Mt19937(seed);
  }

  randn(numel: number): Float32Array {
    if (!Number.isInteger(numel) || numel < 0)
      throw new RangeError(`numel must be a non-negative integer: ${numel}`);
    if (this.#oddSerialDraw)
      throw new Error("TorchGenerator: a draw after an odd serial draw is not emulated");
    if (numel >= 16) return normalFill(this.#engine, numel);
    this.#oddSerialDraw = numel % 2 === 1;
    return serialNormal(this.#engine, numel);
  }
}

/** Seed as torch's manual_seed uses it (`seed mod 2^32`). */
export function effectiveSeed(seed: number): number {
  return seed % 0x100000000;
}

function uniformF32(engine: Mt19937): number {
  return (engine.nextU32() & 0xffffff) * TWO_POW_M24;
}

/** Vectorized path (numel >= 16): fill uniforms, Box-Muller in blocks of 16, redo the ragged tail. */
function normalFill(engine: Mt19937, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = uniformF32(engine);
  for (let b = 0; b + 16 <= n; b += 16) boxMuller16(out, b);
  if (n % 16 !== 0) {
    const tail = new Float32Array(16);
    for (let i = 0; i < 16; i++) tail[i] = uniformF32(engine);
    boxMuller16(tail, 0);
    out.set(tail, n - 16);
  }
  return out;
}

/** normal_fill_16_AVX2 with mean 0, std 1: pairs element j with j+8. */
function boxMuller16(data: Float32Array, base: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = fl(1 - data[base + j]);
    const u2 = data[base + 8 + j];
    const radius = fl(Math.sqrt(fl(-2 * log256(u1))));
    const [sin, cos] = sincos256(fl(TWO_PI_F32 * u2));
    // fma(n, std=1, mean=0) turns -0 into +0; `+ 0` does the same.
    data[base + j] = fl(radius * cos) + 0;
    data[base + 8 + j] = fl(radius * sin) + 0;
  }
}

function uniformF64(engine: Mt19937): number {
  const { hi, lo } = engine.nextU64();
  // (u64 & (2^53 - 1)) * 2^-53, exact: the top 21 bits of `hi` times 2^32 plus `lo`.
  return ((hi & 0x1fffff) * 0x100000000 + lo) * TWO_POW_M53;
}

/** Serial path (numel < 16): normal_distribution<double>, one cached sine per pair. */
function serialNormal(engine: Mt19937, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = uniformF64(engine);
    const u2 = uniformF64(engine);
    const r = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}
