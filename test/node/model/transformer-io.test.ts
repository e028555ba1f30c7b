/** transformer-io: pad-to-32 rules, position ids, RoPE tables, patchify order, masks, output split. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { timestepFreqs } from "../../../gpu-fn/model/builders/transformer";
import {
  parseTransformerConfig,
  transformerIoConfig,
} from "../../../gpu-fn/model/builders/transformer-config";
import {
  buildTransformerFeeds,
  itemLayout,
  patchify,
  positionIds,
  splitTransformerOutput,
  unpatchify,
} from "../../../gpu-fn/model/transformer-io";
import { GOLDEN_DIR, readSafetensors } from "../gpu-fn/golden-files";

const config = parseTransformerConfig(
  JSON.parse(readFileSync(join(GOLDEN_DIR, "checkpoint/transformer/config.json"), "utf8")),
);
const io = transformerIoConfig(config); // head_dim 32 = axes 8|12|12, patch 2, 16 channels, cap_feat_dim 48
const f32 = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

describe("pad-to-32 and position ids (spec §3.2-3.4)", () => {
  it("pads image and caption token counts to multiples of 32", () => {
    expect(itemLayout(io, 40, 12, 6)).toEqual({ nImg: 18, sx: 32, lp: 64 });
    expect(itemLayout(io, 32, 8, 8)).toEqual({ nImg: 16, sx: 32, lp: 32 });
    expect(itemLayout(io, 1, 128, 128)).toEqual({ nImg: 4096, sx: 4096, lp: 32 });
    expect(itemLayout(io, 100, 128, 128).lp).toBe(128); // spec §3.11 worked example
  });

  it("gives captions (1+i,0,0), image tokens (Lp+1,h,w), image pads and batch pads (0,0,0)", () => {
    const lay = itemLayout(io, 7, 4, 6); // 2x3 image tokens, sx 32, lp 32
    const ids = positionIds(io, lay, 6, 32 + 64);
    const at = (r: number) => Array.from(ids.subarray(r * 3, r * 3 + 3));
    expect([0, 1, 2, 3, 4, 5].map(at)).toEqual([
      [33, 0, 0],
      [33, 0, 1],
      [33, 0, 2],
      [33, 1, 0],
      [33, 1, 1],
      [33, 1, 2],
    ]);
    for (let r = 6; r < 32; r++) expect(at(r)).toEqual([0, 0, 0]);
    expect(at(32)).toEqual([1, 0, 0]);
    expect(at(32 + 6)).toEqual([7, 0, 0]); // last real caption token
    expect(at(32 + 7)).toEqual([8, 0, 0]); // caption pad tokens continue the sequence
    expect(at(32 + 31)).toEqual([32, 0, 0]);
    for (let r = 64; r < 96; r++) expect(at(r)).toEqual([0, 0, 0]);
  });

  it("rejects inputs the reference cannot take", () => {
    expect(() => itemLayout(io, 0, 8, 8)).toThrow(/caption length 0/);
    expect(() => itemLayout(io, 5, 7, 8)).toThrow(/multiple of patch size/);
    expect(() => itemLayout(io, 1535, 8, 8)).toThrow(/RoPE table/);
    expect(() => itemLayout(io, 5, 2 * 513, 8)).toThrow(/RoPE tables/);
  });
});

describe("patchify (channel fastest, tokens row-major)", () => {
  it("puts x[c, 2h+ph, 2w+pw] at token (h,w), feature (ph*2+pw)*16+c, and unpatchify inverts it", () => {
    const C = 16;
    const H = 4;
    const W = 6;
    const latent = f32(C * H * W, (i) => i);
    const tokens = new Float32Array(6 * 64);
    patchify(latent, C, H, W, 2, tokens);
    for (let h = 0; h < 2; h++)
      for (let w = 0; w < 3; w++)
        for (let ph = 0; ph < 2; ph++)
          for (let pw = 0; pw < 2; pw++)
            for (let c = 0; c < C; c++) {
              const want = (c * H + 2 * h + ph) * W + 2 * w + pw;
              expect(tokens[(h * 3 + w) * 64 + (ph * 2 + pw) * 16 + c]).toBe(want);
            }
    expect(unpatchify(tokens, C, H, W, 2)).toEqual(latent);
  });
});

describe("buildTransformerFeeds", () => {
  const H = 12;
  const W = 6; // 18 image tokens -> 32
  const items = [
    { latent: f32(16 * H * W, (i) => i / 100), capFeats: f32(5 * 48, (i) => i + 1), capLen: 5, t: 0.25 },
    { latent: f32(16 * H * W, (i) => -i / 100), capFeats: f32(37 * 48, (i) => -i - 1), capLen: 37, t: 0.75 },
  ];
  const feeds = buildTransformerFeeds(io, items, H, W);
  const su = 32 + 64;

  it("has the graph's input shapes and types", () => {
    const dims = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, [v.type, v.dims]]));
    expect(dims).toEqual({
      x_tokens: ["float32", [2, 32, 64]],
      x_pad: ["bool", [2, 32]],
      cap_feats: ["float32", [2, 64, 48]],
      cap_pad: ["bool", [2, 64]],
      t: ["float32", [2]],
      rope_cos: ["float32", [2, su, 16]],
      rope_sin: ["float32", [2, su, 16]],
      attn_mask: ["bool", [2, su]],
    });
    expect(Array.from(feeds.t.data as Float32Array)).toEqual([0.25, 0.75]);
  });

  it("flags pad rows (not masked) and masks only batch padding", () => {
    const xPad = feeds.x_pad.data as Uint8Array;
    const capPad = feeds.cap_pad.data as Uint8Array;
    const mask = feeds.attn_mask.data as Uint8Array;
    for (let b = 0; b < 2; b++) {
      for (let n = 0; n < 32; n++) expect(xPad[b * 32 + n]).toBe(n >= 18 ? 1 : 0);
    }
    const lens = [5, 37];
    const lps = [32, 64];
    for (let b = 0; b < 2; b++) {
      for (let j = 0; j < 64; j++) {
        expect(capPad[b * 64 + j]).toBe(j >= lens[b] && j < lps[b] ? 1 : 0);
        expect(mask[b * su + 32 + j]).toBe(j < lps[b] ? 1 : 0);
      }
      for (let n = 0; n < 32; n++) expect(mask[b * su + n]).toBe(1);
    }
  });

  it("pads captions by repeating the last row, batch padding is zero", () => {
    const cap = feeds.cap_feats.data as Float32Array;
    const row = (b: number, j: number) => Array.from(cap.subarray((b * 64 + j) * 48, (b * 64 + j + 1) * 48));
    expect(row(0, 4)).toEqual(Array.from(items[0].capFeats.subarray(4 * 48)));
    expect(row(0, 31)).toEqual(row(0, 4));
    expect(row(0, 32)).toEqual(new Array(48).fill(0));
    expect(row(1, 63)).toEqual(row(1, 36));
    const x = feeds.x_tokens.data as Float32Array;
    expect(Array.from(x.subarray(31 * 64, 32 * 64))).toEqual(Array.from(x.subarray(17 * 64, 18 * 64)));
  });

  it("gives RoPE cos/sin of fp32 angles per axis (axis0 | h | w), identity on image pads", () => {
    const cos = feeds.rope_cos.data as Float32Array;
    const sin = feeds.rope_sin.data as Float32Array;
    // theta 256: inv_freq = 256^(-2j/d) = 4^-j on axis0 (d=8) and 2^(-4j/3) on h/w (d=12).
    const inv = [
      Array.from({ length: 4 }, (_, j) => 4 ** -j),
      Array.from({ length: 6 }, (_, j) => 2 ** ((-4 * j) / 3)),
      Array.from({ length: 6 }, (_, j) => 2 ** ((-4 * j) / 3)),
    ];
    const expectRow = (b: number, r: number, pos: number[]) => {
      const angles = pos.flatMap((p, k) => inv[k].map((f) => Math.fround(p * f)));
      const o = (b * su + r) * 16;
      angles.forEach((a, i) => {
        expect(cos[o + i]).toBeCloseTo(Math.cos(a), 6);
        expect(sin[o + i]).toBeCloseTo(Math.sin(a), 6);
      });
    };
    expectRow(1, 13, [64 + 1, 4, 1]); // item 1: Lp 64, token 13 = (h 4, w 1) of a 6x3 grid
    expectRow(0, 17, [32 + 1, 5, 2]);
    expectRow(0, 20, [0, 0, 0]); // image pad
    expectRow(1, 32 + 40, [41, 0, 0]); // caption pad continues positions
    for (let i = 0; i < 16; i++) expect([cos[20 * 16 + i], sin[20 * 16 + i]]).toEqual([1, 0]);
  });

  it("reuses the layout feeds across steps and rebuilds them when the layout changes", () => {
    const step2 = buildTransformerFeeds(
      io,
      items.map((it) => ({ ...it, t: it.t / 2 })),
      H,
      W,
    );
    expect(step2.rope_cos.data).toBe(buildTransformerFeeds(io, items, H, W).rope_cos.data);
    expect(Array.from(step2.t.data as Float32Array)).toEqual([0.125, 0.375]);
    const other = buildTransformerFeeds(io, [items[1], items[0]], H, W);
    expect(other.rope_cos.data).not.toBe(step2.rope_cos.data);
    expect(Array.from((other.cap_pad.data as Uint8Array).subarray(0, 64))).toEqual(
      Array.from({ length: 64 }, (_, j) => (j >= 37 ? 1 : 0)),
    );
  });

  it("checks item sizes", () => {
    expect(() => buildTransformerFeeds(io, [{ ...items[0], capLen: 6 }], H, W)).toThrow(/capFeats/);
    expect(() => buildTransformerFeeds(io, [items[0]], H, W + 2)).toThrow(/latent has/);
  });
});

describe("real Z-Image-Turbo config (spec §3.11 worked example)", () => {
  it("1024x1024 with a 100-token caption: 4096 + 128 tokens, image axis0 = 129, inv_freq 2^(-j/2) | 2^(-j/3)", () => {
    const real = transformerIoConfig(
      parseTransformerConfig({
        ...config,
        dim: 3840,
        n_heads: 30,
        n_kv_heads: 30,
        cap_feat_dim: 2560,
        axes_dims: [32, 48, 48],
      }),
    );
    const item = {
      latent: new Float32Array(16 * 128 * 128),
      capFeats: new Float32Array(100 * 2560),
      capLen: 100,
      t: 0.5,
    };
    const feeds = buildTransformerFeeds(real, [item], 128, 128);
    expect(feeds.rope_cos.dims).toEqual([1, 4224, 64]);
    expect(feeds.x_tokens.dims).toEqual([1, 4096, 64]);
    expect(feeds.cap_feats.dims).toEqual([1, 128, 2560]);
    const cos = feeds.rope_cos.data as Float32Array;
    const sin = feeds.rope_sin.data as Float32Array;
    const check = (row: number, pos: [number, number, number]) => {
      const inv = [
        ...Array.from({ length: 16 }, (_, j) => 2 ** (-j / 2)),
        ...Array.from({ length: 24 }, (_, j) => 2 ** (-j / 3)),
        ...Array.from({ length: 24 }, (_, j) => 2 ** (-j / 3)),
      ];
      inv.forEach((f, i) => {
        const p = pos[i < 16 ? 0 : i < 40 ? 1 : 2];
        expect(cos[row * 64 + i]).toBeCloseTo(Math.cos(Math.fround(p * f)), 6);
        expect(sin[row * 64 + i]).toBeCloseTo(Math.sin(Math.fround(p * f)), 6);
      });
    };
    check(0, [129, 0, 0]);
    check(64 * 37 + 5, [129, 37, 5]);
    check(4095, [129, 63, 63]);
    check(4096, [1, 0, 0]);
    check(4096 + 127, [128, 0, 0]); // last caption pad token
  });
});

describe("splitTransformerOutput", () => {
  it("drops image pad rows, unpatchifies each item and checks dims", () => {
    const H = 12;
    const W = 6;
    const lat = [f32(16 * H * W, (i) => Math.sin(i)), f32(16 * H * W, (i) => Math.cos(i))];
    const out = new Float32Array(2 * 32 * 64).fill(Number.NaN);
    lat.forEach((l, b) => {
      patchify(l, 16, H, W, 2, out.subarray(b * 32 * 64));
    });
    const parts = splitTransformerOutput(out, [2, 32, 64], 2, H, W);
    expect(parts).toEqual(lat);
    expect(() => splitTransformerOutput(out, [2, 16, 64], 2, H, W)).toThrow(/do not fit/);
  });
});

describe("timestep frequencies", () => {
  it("are within 1 ulp of torch's fp32 table (debug_timestep_freqs)", () => {
    const ref = readSafetensors("cases/transformer_1.safetensors").debug_timestep_freqs.data as Float32Array;
    const got = Float32Array.from(timestepFreqs());
    const bits = (a: Float32Array) => new Int32Array(a.buffer, a.byteOffset, a.length);
    let off = 0;
    for (let k = 0; k < 128; k++) {
      const d = Math.abs(bits(got)[k] - bits(ref)[k]);
      expect(d, `k=${k}`).toBeLessThanOrEqual(1);
      off += d;
    }
    expect(off).toBeLessThanOrEqual(15); // README §5a: torch's exp is 1 ulp off for 15 of 128
  });
});
