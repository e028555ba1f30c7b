import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  float32ToBFloat16,
  MappedWeightSource,
  openSafetensors,
  SafetensorsFile,
  SafetensorsWriter,
  writeSafetensors,
} from "../../../gpu-fn/model/safetensors";
import { useTempDirs } from "./temp-dirs";

const TINY = resolve("test/fixtures/golden/tiny-a");
const tmpDir = useTempDirs();
const tmp = () => tmpDir("st-");

/** A file from a literal header object and a data section of `dataBytes` bytes. */
function rawFile(dir: string, header: unknown, dataBytes: number, name = "x.safetensors"): string {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]));
  return path;
}

describe("safetensors reader", () => {
  it("reads the tiny-a checkpoint: F32 as stored, BF16 upcast exactly", () => {
    const vae = SafetensorsFile.open(join(TINY, "checkpoint/vae/diffusion_pytorch_model.safetensors"));
    expect(vae.metadata).toEqual({ format: "pt" });
    expect(vae.entry("decoder.conv_in.weight").shape).toEqual([32, 16, 3, 3]);
    const w = vae.readF32("decoder.conv_in.weight");
    expect(w.length).toBe(32 * 16 * 9);
    // Independent decode of the same bytes with DataView.
    const e = vae.entry("decoder.conv_in.weight");
    const buf = readFileSync(vae.path);
    const dv = new DataView(buf.buffer, buf.byteOffset);
    for (const i of [0, 1, 100, w.length - 1]) expect(w[i]).toBe(dv.getFloat32(e.begin + 4 * i, true));
    vae.close();

    const te = SafetensorsFile.open(join(TINY, "checkpoint/text_encoder/model.safetensors"));
    const emb = te.entry("model.embed_tokens.weight");
    expect(emb.dtype).toBe("BF16");
    const vals = te.readF32("model.embed_tokens.weight");
    const tb = readFileSync(te.path);
    const tdv = new DataView(tb.buffer, tb.byteOffset);
    for (const i of [0, 7, 5000, vals.length - 1]) {
      const bits = tdv.getUint16(emb.begin + 2 * i, true);
      const f = new DataView(new ArrayBuffer(4));
      f.setUint32(0, bits << 16);
      expect(vals[i]).toBe(f.getFloat32(0));
    }
    // Chunked reads equal the whole read.
    const parts = [...te.chunksF32("model.embed_tokens.weight", 0, undefined, 1000)];
    expect(parts.length).toBe(Math.ceil(vals.length / 1000));
    expect(Float32Array.from(parts.flatMap((p) => [...p]))).toEqual(vals);
    te.close();
  });

  it("round-trips every dtype through the writer; F16/BF16 round to nearest even", () => {
    const dir = tmp();
    const path = join(dir, "all.safetensors");
    const f = Float32Array.from([1, -2.5, 3.140625, 65504, 1e-8]);
    writeSafetensors(
      path,
      [
        { name: "f32", dtype: "F32", shape: [5], data: f },
        { name: "i64", dtype: "I64", shape: [2, 2], data: BigInt64Array.from([1n, -2n, 3n, 2n ** 40n]) },
        { name: "u8", dtype: "U8", shape: [3], data: Uint8Array.from([0, 128, 255]) },
        { name: "i32", dtype: "I32", shape: [2], data: Int32Array.from([-7, 9]) },
        { name: "empty", dtype: "F32", shape: [0, 3], data: new Float32Array(0) },
      ],
      { case: "x" },
    );
    const w = new SafetensorsWriter(join(dir, "half.safetensors"), [
      { name: "bf16", dtype: "BF16", shape: [5] },
      { name: "f16", dtype: "F16", shape: [5] },
    ]);
    w.writeF32("bf16", f.subarray(0, 2));
    w.writeF32("bf16", f.subarray(2));
    w.writeF32("f16", f);
    w.close();

    const a = SafetensorsFile.open(path);
    expect(a.metadata).toEqual({ case: "x" });
    expect(a.readF32("f32")).toEqual(f);
    expect(a.readRaw("i64")).toEqual(BigInt64Array.from([1n, -2n, 3n, 2n ** 40n]));
    expect(a.readRaw("u8")).toEqual(Uint8Array.from([0, 128, 255]));
    expect(a.readRaw("i32")).toEqual(Int32Array.from([-7, 9]));
    expect(a.readF32("empty").length).toBe(0);
    expect(() => a.readF32("i64")).toThrow(/tensor "i64": dtype I64 cannot be read as float32/);
    a.close();

    const h = SafetensorsFile.open(join(dir, "half.safetensors"));
    // bf16: 3.140625 is exact, 65504 -> 65536, 1e-8 -> nearest bf16.
    expect(Array.from(h.readF32("bf16").subarray(0, 4))).toEqual([1, -2.5, 3.140625, 65536]);
    expect(h.readF32("bf16")[4]).toBeCloseTo(1e-8, 10);
    expect(Array.from(h.readF32("f16").subarray(0, 4))).toEqual([1, -2.5, 3.140625, 65504]);
    expect(h.readF32("f16")[4]).toBe(0); // below half the smallest fp16 subnormal
    h.close();
  });

  it("rounds fp32 -> bf16 to nearest even", () => {
    const bits = (x: number) => float32ToBFloat16(Float32Array.of(x))[0];
    expect(bits(1)).toBe(0x3f80);
    expect(bits(1 + 2 ** -8)).toBe(0x3f80); // tie -> even (down)
    expect(bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie -> even (up)
    expect(bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(bits(Number.NaN) & 0x7fc0).toBe(0x7fc0);
  });

  it("opens a sharded checkpoint through its index and exposes every tensor", async () => {
    const dir = tmp();
    writeSafetensors(join(dir, "m-00001-of-00002.safetensors"), [
      { name: "a", dtype: "F32", shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    ]);
    writeSafetensors(join(dir, "m-00002-of-00002.safetensors"), [
      { name: "b", dtype: "F32", shape: [2], data: Float32Array.from([7, 8]) },
    ]);
    writeFileSync(
      join(dir, "m.safetensors.index.json"),
      JSON.stringify({
        metadata: { total_size: 32 },
        weight_map: { a: "m-00001-of-00002.safetensors", b: "m-00002-of-00002.safetensors" },
      }),
    );
    const set = openSafetensors(dir);
    expect(set.files.length).toBe(2);
    const src = MappedWeightSource.fromSet(set);
    expect(src.keys().sort()).toEqual(["a", "b"]);
    expect(src.info("a")).toEqual({ key: "a", dtype: "F32", shape: [2, 3] });
    expect(await src.readF32("b")).toEqual(Float32Array.from([7, 8]));
    expect(() => src.info("c")).toThrow(/m\.safetensors\.index\.json: no tensor "c"/);
    set.close();

    writeFileSync(
      join(dir, "m.safetensors.index.json"),
      JSON.stringify({ weight_map: { a: "m-00002-of-00002.safetensors" } }),
    );
    expect(() => openSafetensors(dir)).toThrow(
      /m-00002-of-00002\.safetensors: tensor "a": listed in m\.safetensors\.index\.json but not stored in this shard/,
    );
    writeFileSync(
      join(dir, "m.safetensors.index.json"),
      JSON.stringify({ weight_map: { a: "gone.safetensors" } }),
    );
    expect(() => openSafetensors(dir)).toThrow(/shard gone\.safetensors \(tensor "a"\) is missing/);
  });

  it("prefers the plain file over a diffusers dtype variant in a folder without an index", async () => {
    const dir = tmp();
    writeSafetensors(join(dir, "diffusion_pytorch_model.safetensors"), [
      { name: "w", dtype: "F32", shape: [1], data: Float32Array.of(1.5) },
    ]);
    writeSafetensors(join(dir, "diffusion_pytorch_model.fp16.safetensors"), [
      { name: "w", dtype: "F16", shape: [1], data: Uint16Array.of(0x3e00) },
    ]);
    const set = openSafetensors(dir);
    expect(set.files.map((f) => f.path)).toEqual([join(dir, "diffusion_pytorch_model.safetensors")]);
    expect(await MappedWeightSource.fromSet(set).readF32("w")).toEqual(Float32Array.of(1.5));
    set.close();
    writeSafetensors(join(dir, "extra.safetensors"), [
      { name: "w", dtype: "F32", shape: [1], data: Float32Array.of(2) },
    ]);
    expect(() => openSafetensors(dir)).toThrow(
      /extra\.safetensors: tensor "w": also stored in .*diffusion_pytorch_model\.safetensors/,
    );
  });

  it("reads row ranges (e.g. one third of a fused qkv weight) as renamed keys", async () => {
    const dir = tmp();
    const path = join(dir, "qkv.safetensors");
    writeSafetensors(path, [
      { name: "qkv", dtype: "F32", shape: [6, 2], data: Float32Array.from({ length: 12 }, (_, i) => i) },
    ]);
    const file = SafetensorsFile.open(path);
    const src = new MappedWeightSource(
      path,
      new Map([
        ["q", { file, name: "qkv", rows: [0, 2] as [number, number] }],
        ["k", { file, name: "qkv", rows: [2, 4] as [number, number] }],
      ]),
    );
    expect(src.info("k").shape).toEqual([2, 2]);
    expect(Array.from(await src.readF32("k"))).toEqual([4, 5, 6, 7]);
    const chunks: number[] = [];
    for await (const c of src.chunksF32("k", 3)) chunks.push(c.length);
    expect(chunks).toEqual([3, 1]);
    file.close();
  });
});

describe("safetensors reader rejects malformed files with the file and tensor named", () => {
  const dir = tmp();
  const ok = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };

  it.each([
    [
      "a file shorter than the length prefix",
      () => writeFileSync(join(dir, "short"), Buffer.alloc(3)),
      /short: truncated: 3 bytes/,
    ],
    [
      "a header length beyond the file",
      () => {
        const b = Buffer.alloc(16);
        b.writeBigUInt64LE(1000n);
        writeFileSync(join(dir, "short"), b);
      },
      /short: truncated: header length 1000 but only 8 bytes follow/,
    ],
    [
      "an absurd header length",
      () => {
        const b = Buffer.alloc(16);
        b.writeBigUInt64LE(2n ** 60n);
        writeFileSync(join(dir, "short"), b);
      },
      /short: bad header length 1152921504606846976/,
    ],
  ])("%s", (_what, make, message) => {
    make();
    expect(() => SafetensorsFile.open(join(dir, "short"))).toThrow(message);
  });

  it.each([
    ["bad JSON", "{not json", 0, /x\.safetensors: header is not valid UTF-8 JSON/],
    ["a non-object header", "[1,2]", 0, /header JSON is not an object/],
    [
      "an unknown dtype",
      { a: { dtype: "Q4", shape: [2], data_offsets: [0, 8] } },
      8,
      /tensor "a": unsupported dtype "Q4"/,
    ],
    [
      "a bad shape",
      { a: { dtype: "F32", shape: [-1], data_offsets: [0, 8] } },
      8,
      /tensor "a": bad shape \[-1\]/,
    ],
    [
      "reversed offsets",
      { a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } },
      8,
      /tensor "a": bad data_offsets \[8,0\]/,
    ],
    [
      "size != shape x dtype",
      { a: { dtype: "BF16", shape: [2, 3], data_offsets: [0, 8] } },
      8,
      /tensor "a": data_offsets \[0, 8\] span 8 bytes but shape \[2,3\] of BF16 needs 12/,
    ],
    [
      "a file shorter than the header says (truncated data)",
      { ...ok, b: { dtype: "F32", shape: [4], data_offsets: [8, 24] } },
      12,
      /tensor "b": data_offsets \[8, 24\] end past the data section \(12 bytes\): the file is truncated/,
    ],
    [
      "overlapping tensors",
      { ...ok, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } },
      12,
      /tensor "b": data overlaps tensor "a"/,
    ],
    [
      "a hole between tensors",
      { ...ok, b: { dtype: "F32", shape: [1], data_offsets: [12, 16] } },
      16,
      /tensor "b": hole of 4 bytes/,
    ],
    ["trailing bytes", ok, 20, /12 trailing bytes after the last tensor/],
    ["non-string metadata", { ...ok, __metadata__: { n: 1 } }, 8, /__metadata__\.n is not a string/],
  ])("%s", (_what, header, dataBytes, message) => {
    const path = rawFile(dir, header, dataBytes as number);
    expect(() => SafetensorsFile.open(path)).toThrow(message as RegExp);
  });

  it("names the file when its data disappears after open", () => {
    const path = join(dir, "later.safetensors");
    writeSafetensors(path, [{ name: "w", dtype: "F32", shape: [1024], data: new Float32Array(1024) }]);
    const f = SafetensorsFile.open(path);
    writeFileSync(path, readFileSync(path).subarray(0, 200));
    expect(() => f.readF32("w")).toThrow(/later\.safetensors: tensor "w": unexpected end of file/);
    f.close();
  });
});
