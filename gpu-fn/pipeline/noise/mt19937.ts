/**
 * MT19937, the engine behind torch's CPU generator (`at::mt19937`, identical to `std::mt19937`).
 * Written here because no maintained npm package exposes torch's exact seeding and 64-bit draw order.
 * @module
 */
const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class Mt19937 {
  readonly #state = new Uint32Array(N);
  #index = N;

  /** torch's `manual_seed(s)` seeds the engine with `s & 0xffffffff` (seeds are exact integers up to 2^53). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new RangeError(`seed must be an integer in [0, 2^53): ${seed}`);
    const s = this.#state;
    s[0] = seed % 0x100000000;
    for (let i = 1; i < N; i++) {
      const prev = s[i - 1] ^ (s[i - 1] >>> 30);
      s[i] = Math.imul(1812433253, prev) + i;
    }
  }

  /** Next 32-bit output (`random()` in torch). */
  nextU32(): number {
    if (this.#index >= N) this.#twist();
    let y = this.#state[this.#index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** torch's `random64()`: two draws, the first is the high word. Returned as {hi, lo} to stay exact. */
  nextU64(): { hi: number; lo: number } {
    const hi = this.nextU32();
    const lo = this.nextU32();
    return { hi, lo };
  }

  #twist(): void {
    const s = this.#state;
    for (let i = 0; i < N; i++) {
      const y = (s[i] & UPPER_MASK) | (s[(i + 1) % N] & LOWER_MASK);
      s[i] = s[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.#index = 0;
  }
}
