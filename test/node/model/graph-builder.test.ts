import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { float32ToFloat16, halfBitsToFloat, toHalfBits } from "../../../gpu-fn/model/onnx/float16";
import { float, GraphBuilder } from "../../../gpu-fn/model/onnx/graph-builder";

describe("GraphBuilder", () => {
  it("emits a graph with external weights that ONNX Runtime runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gb-"));
    const g = new GraphBuilder({ name: "t", dataPath: join(dir, "t.onnx.data") });
    const x = g.input("x", "float32", ["batch", 300]);
    const wData = Float32Array.from({ length: 300 * 2 }, (_, i) => ((i % 7) - 3) / 10);
    const w = await g.weight("lin.weight", [300, 2], wData);
    const b = await g.weight("lin.bias", [2], Float32Array.from([0.5, -0.25]));
    const y = g.op("Add", [g.op("MatMul", [x, w], {}, { name: "lin" }), b], {}, { name: "lin" });
    const z = g.op("LeakyRelu", [y], { alpha: float(1) });
    g.output(z, "y", "float32", ["batch", 2]);
    writeFileSync(join(dir, "t.onnx"), g.finish());
    expect(statSync(join(dir, "t.onnx.data")).size).toBeGreaterThanOrEqual(2400);
    expect(g.parameters).toBe(602);

    const session = await ort.InferenceSession.create(join(dir, "t.onnx"));
    const xs = Float32Array.from({ length: 2 * 300 }, (_, i) => Math.sin(i));
    const out = await session.run({ x: new ort.Tensor("float32", xs, [2, 300]) });
    const got = out.y.data as Float32Array;
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 2; c++) {
        let acc = c === 0 ? 0.5 : -0.25;
        for (let k = 0; k < 300; k++) acc += xs[r * 300 + k] * wData[k * 2 + c];
        expect(got[r * 2 + c]).toBeCloseTo(acc, 4);
      }
    }
    expect(readFileSync(join(dir, "t.onnx")).length).toBeLessThan(4096);
  });

  it("rejects a weight whose data does not match its shape", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gb-"));
    const g = new GraphBuilder({ name: "t", dataPath: join(dir, "t.onnx.data") });
    await expect(g.weight("w", [4, 4], new Float32Array(15))).rejects.toThrow(
      /w: got 15 values, shape needs 16/,
    );
  });
});

describe("float16", () => {
  it("converts whole arrays exactly like toHalfBits (every exponent, ties, subnormals, inf, NaN)", () => {
    // Every upper-16-bit pattern (sign, exponent, top mantissa bits) with lower halves around the rounding
    // points of normal (bit 12) and subnormal (bits 13..23 shifted) fp16 values.
    const lows = [
      0, 1, 0x07ff, 0x0800, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x7fff, 0x8000, 0xffff,
    ];
    const bits = new Uint32Array(65536 * lows.length);
    let k = 0;
    for (let hi = 0; hi < 65536; hi++) for (const lo of lows) bits[k++] = ((hi << 16) | lo) >>> 0;
    const values = new Float32Array(bits.buffer);
    const fast = float32ToFloat16(values);
    let mismatches = 0;
    for (let i = 0; i < values.length; i++) if (fast[i] !== toHalfBits(values[i])) mismatches++;
    expect(mismatches).toBe(0);
    expect(Array.from(float32ToFloat16(Float32Array.of(65519, 65520, -0, 2 ** -25, 3 * 2 ** -26)))).toEqual([
      0x7bff, 0x7c00, 0x8000, 0x0000, 0x0001,
    ]);
  });

  it("rounds to nearest even like torch.half()", () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // rounds up to inf
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalfBits(2 ** -26)).toBe(0x0000);
    const xs = Float32Array.from({ length: 1000 }, (_, i) => (i - 500) * 0.0137);
    const back = Array.from(float32ToFloat16(xs), halfBitsToFloat);
    for (let i = 0; i < xs.length; i++) {
      expect(Math.abs(back[i] - xs[i])).toBeLessThanOrEqual(Math.abs(xs[i]) * 2 ** -11 + 2 ** -25);
    }
  });
});
