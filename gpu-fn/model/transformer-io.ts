/**
 * The only way callers prepare the transformer graph's feeds (spec §3.2-3.6, §3.9) and read its output back:
 * patchify with pad-to-32, caption padding, pad-row flags, the exact 3-axis position ids turned into RoPE cos/sin
 * tables, and batch-padding key masks. Per-axis cos/sin tables are computed once per config, so a step costs a
 * few copies of O(tokens) size.
 */
import { SEQ_MULTI_OF, type TransformerIoConfig } from "./builders/transformer-config";

export type { TransformerIoConfig } from "./builders/transformer-config";

export interface TransformerItem {
  /** (16, H, W) latent, C order. */
  latent: Float32Array;
  /** capLen * cap_feat_dim caption features (unpadded). */
  capFeats: Float32Array;
  capLen: number;
  /** Model time t = 1 - sigma. */
  t: number;
}

export interface Feed {
  type: "float32" | "int64" | "bool";
  data: Float32Array | BigInt64Array | Uint8Array;
  dims: number[];
}

/** Per-item layout: image tokens (incl. pads) then caption tokens (incl. pads); §3.2-3.4. */
export interface ItemLayout {
  nImg: number;
  sx: number;
  lp: number;
}

export const padTo = (n: number, m = SEQ_MULTI_OF): number => n + ((m - (n % m)) % m);

export function itemLayout(cfg: TransformerIoConfig, capLen: number, H: number, W: number): ItemLayout {
  const p = cfg.patch_size;
  if (H % p !== 0 || W % p !== 0) throw new Error(`latent ${H}x${W} is not a multiple of patch size ${p}`);
  if (!Number.isInteger(capLen) || capLen < 1) throw new Error(`caption length ${capLen} must be >= 1`);
  const nImg = (H / p) * (W / p);
  const lp = padTo(capLen);
  // Largest position on each axis must exist in the reference's RoPE tables (axes_lens).
  const [l0, l1, l2] = cfg.axes_lens;
  if (lp + 1 >= l0)
    throw new Error(`padded caption length ${lp} exceeds the RoPE table (axes_lens[0]=${l0})`);
  if (H / p > l1 || W / p > l2)
    throw new Error(`latent ${H}x${W} exceeds the RoPE tables (axes_lens ${l1}, ${l2})`);
  return { nImg, sx: padTo(nImg), lp };
}

/**
 * Position ids (axis0, h, w) of every row of one item's unified sequence: image tokens (Lp+1, h, w), image pads
 * (0,0,0), caption tokens and caption pads (1+i, 0, 0); `rows` > sx+lp (batch padding) get (0,0,0).
 */
export function positionIds(
  cfg: TransformerIoConfig,
  layout: ItemLayout,
  W: number,
  rows: number,
): Int32Array {
  const wt = W / cfg.patch_size;
  const ids = new Int32Array(rows * 3);
  for (let n = 0; n < layout.nImg; n++) {
    ids[n * 3] = layout.lp + 1;
    ids[n * 3 + 1] = Math.floor(n / wt);
    ids[n * 3 + 2] = n % wt;
  }
  for (let i = 0; i < layout.lp; i++) ids[(layout.sx + i) * 3] = 1 + i;
  return ids;
}

interface AxisTables {
  half: number[];
  cos: Float32Array[];
  sin: Float32Array[];
}
const tableCache = new Map<string, AxisTables>();

/** cos/sin of angle = fp32(pos * inv_freq_f64), inv_freq = 1 / theta^(2j/d) in float64; §3.6. */
export function ropeAxisTables(cfg: TransformerIoConfig): AxisTables {
  const key = `${cfg.rope_theta}|${cfg.axes_dims}|${cfg.axes_lens}`;
  const hit = tableCache.get(key);
  if (hit) return hit;
  const tables: AxisTables = { half: [], cos: [], sin: [] };
  cfg.axes_dims.forEach((d, k) => {
    const half = d / 2;
    const len = cfg.axes_lens[k];
    const inv = Array.from({ length: half }, (_, j) => 1 / cfg.rope_theta ** ((2 * j) / d));
    const cos = new Float32Array(len * half);
    const sin = new Float32Array(len * half);
    for (let p = 0; p < len; p++) {
      for (let j = 0; j < half; j++) {
        const angle = Math.fround(p * inv[j]);
        cos[p * half + j] = Math.cos(angle);
        sin[p * half + j] = Math.sin(angle);
      }
    }
    tables.half.push(half);
    tables.cos.push(cos);
    tables.sin.push(sin);
  });
  tableCache.set(key, tables);
  return tables;
}

/** Writes rows' cos/sin (headDim/2 each: axis0 | axis1 | axis2) from position ids into cos/sin at `offset`. */
function fillRope(
  tables: AxisTables,
  ids: Int32Array,
  cos: Float32Array,
  sin: Float32Array,
  offset: number,
): void {
  const width = tables.half.reduce((a, b) => a + b, 0);
  const rows = ids.length / 3;
  for (let r = 0; r < rows; r++) {
    let o = offset + r * width;
    for (let k = 0; k < 3; k++) {
      const h = tables.half[k];
      const src = ids[r * 3 + k] * h;
      cos.set(tables.cos[k].subarray(src, src + h), o);
      sin.set(tables.sin[k].subarray(src, src + h), o);
      o += h;
    }
  }
}

/** Token index of each latent element for the last shape asked for (the same on every denoising step). */
let lastPatchOrder: { key: string; order: Int32Array } | null = null;

/**
 * For each element (c, y, x) of a C x H x W latent, in latent order, its index in the token-major patch
 * layout: token (h, w), feature ((ph * p + pw) * C + c); §3.2 (F = 1).
 */
function patchOrder(C: number, H: number, W: number, p: number): Int32Array {
  const key = `${C}x${H}x${W}/${p}`;
  if (lastPatchOrder?.key === key) return lastPatchOrder.order;
  const order = new Int32Array(C * H * W);
  const wt = W / p;
  const dimP = p * p * C;
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const row = (c * H + y) * W;
      const tokRow = Math.floor(y / p) * wt;
      const ph = y % p;
      for (let x = 0; x < W; x++) {
        order[row + x] = (tokRow + Math.floor(x / p)) * dimP + (ph * p + (x % p)) * C + c;
      }
    }
  }
  lastPatchOrder = { key, order };
  return order;
}

/** Token-major patchify: token (h, w), feature ((ph * p + pw) * C + c); §3.2 (F = 1). */
export function patchify(
  latent: Float32Array,
  C: number,
  H: number,
  W: number,
  p: number,
  out: Float32Array,
): void {
  const order = patchOrder(C, H, W, p);
  for (let i = 0; i < order.length; i++) out[order[i]] = latent[i];
}

/** Exact inverse of `patchify` for the first H/p * W/p tokens. */
export function unpatchify(tokens: Float32Array, C: number, H: number, W: number, p: number): Float32Array {
  const order = patchOrder(C, H, W, p);
  const out = new Float32Array(order.length);
  for (let i = 0; i < order.length; i++) out[i] = tokens[order[i]];
  return out;
}

/** Feeds that depend only on the batch layout (H, W, caption lengths): identical on every denoising step. */
interface LayoutFeeds {
  key: string;
  xPad: Feed;
  capPad: Feed;
  cos: Feed;
  sin: Feed;
  mask: Feed;
}
let lastLayout: LayoutFeeds | null = null;

function layoutFeeds(
  cfg: TransformerIoConfig,
  layouts: ItemLayout[],
  capLens: number[],
  W: number,
): LayoutFeeds {
  const key = `${JSON.stringify(cfg)}|${W}|${layouts.map((l) => `${l.nImg},${l.sx}`).join(";")}|${capLens}`;
  if (lastLayout?.key === key) return lastLayout;
  const B = layouts.length;
  const { nImg, sx } = layouts[0];
  const sc = Math.max(...layouts.map((l) => l.lp));
  const su = sx + sc;
  const half = cfg.dim / cfg.n_heads / 2;
  const tables = ropeAxisTables(cfg);
  if (tables.half.reduce((a, b) => a + b, 0) !== half) throw new Error("axes_dims do not sum to head_dim");
  const xPad = new Uint8Array(B * sx);
  const capPad = new Uint8Array(B * sc);
  const cos = new Float32Array(B * su * half);
  const sin = new Float32Array(B * su * half);
  const mask = new Uint8Array(B * su);
  layouts.forEach((lay, b) => {
    xPad.fill(1, b * sx + nImg, (b + 1) * sx);
    capPad.fill(1, b * sc + capLens[b], b * sc + lay.lp);
    fillRope(tables, positionIds(cfg, lay, W, su), cos, sin, b * su * half);
    mask.fill(1, b * su, b * su + sx + lay.lp);
  });
  lastLayout = {
    key,
    xPad: { type: "bool", data: xPad, dims: [B, sx] },
    capPad: { type: "bool", data: capPad, dims: [B, sc] },
    cos: { type: "float32", data: cos, dims: [B, su, half] },
    sin: { type: "float32", data: sin, dims: [B, su, half] },
    mask: { type: "bool", data: mask, dims: [B, su] },
  };
  return lastLayout;
}

/**
 * Feeds for one forward pass of a batch; every item shares H and W, caption lengths may differ. The layout
 * feeds (pad flags, RoPE tables, mask) are reused from the previous call when the layout is the same, so treat
 * all returned arrays as read-only.
 */
export function buildTransformerFeeds(
  cfg: TransformerIoConfig,
  items: TransformerItem[],
  H: number,
  W: number,
): Record<string, Feed> {
  if (items.length === 0) throw new Error("buildTransformerFeeds: no items");
  if (cfg.f_patch_size !== 1) throw new Error(`f_patch_size ${cfg.f_patch_size} is not supported`);
  const B = items.length;
  const C = cfg.in_channels;
  const p = cfg.patch_size;
  const cd = cfg.cap_feat_dim;
  const layouts = items.map((it) => itemLayout(cfg, it.capLen, H, W));
  const { nImg, sx } = layouts[0];
  const sc = Math.max(...layouts.map((l) => l.lp));
  const dimP = p * p * C;

  const xTokens = new Float32Array(B * sx * dimP);
  const capFeats = new Float32Array(B * sc * cd);
  const t = new Float32Array(B);
  items.forEach((it, b) => {
    if (it.latent.length !== C * H * W)
      throw new Error(`item ${b}: latent has ${it.latent.length} values, expected ${C}x${H}x${W}`);
    if (it.capFeats.length !== it.capLen * cd)
      throw new Error(`item ${b}: capFeats has ${it.capFeats.length} values, expected ${it.capLen}x${cd}`);
    const tok = xTokens.subarray(b * sx * dimP, (b + 1) * sx * dimP);
    patchify(it.latent, C, H, W, p, tok);
    // Pad rows repeat the last token (their values are replaced by x_pad_token anyway).
    for (let n = nImg; n < sx; n++) tok.copyWithin(n * dimP, (nImg - 1) * dimP, nImg * dimP);
    // Caption pads repeat the last row (replaced by cap_pad_token); batch-padding rows stay zero: they are
    // masked as keys and never read back [INFERENCE: the reference zero-pads them in pad_sequence].
    const cap = capFeats.subarray(b * sc * cd, (b + 1) * sc * cd);
    cap.set(it.capFeats);
    for (let i = it.capLen; i < layouts[b].lp; i++)
      cap.copyWithin(i * cd, (it.capLen - 1) * cd, it.capLen * cd);
    t[b] = it.t;
  });
  const lay = layoutFeeds(
    cfg,
    layouts,
    items.map((it) => it.capLen),
    W,
  );
  return {
    x_tokens: { type: "float32", data: xTokens, dims: [B, sx, dimP] },
    x_pad: lay.xPad,
    cap_feats: { type: "float32", data: capFeats, dims: [B, sc, cd] },
    cap_pad: lay.capPad,
    t: { type: "float32", data: t, dims: [B] },
    rope_cos: lay.cos,
    rope_sin: lay.sin,
    attn_mask: lay.mask,
  };
}

/** Each item's raw (16, H, W) output (before the pipeline's negation) from the graph output (B, S_x, patchDim). */
export function splitTransformerOutput(
  out: Float32Array,
  dims: number[],
  B: number,
  H: number,
  W: number,
  cfg: Pick<TransformerIoConfig, "patch_size" | "in_channels"> = { patch_size: 2, in_channels: 16 },
): Float32Array[] {
  const p = cfg.patch_size;
  const C = cfg.in_channels;
  const dimP = p * p * C;
  const nImg = (H / p) * (W / p);
  if (dims.length !== 3 || dims[0] !== B || dims[1] < nImg || dims[2] !== dimP) {
    throw new Error(`transformer output dims [${dims}] do not fit B=${B}, ${H}x${W} (patch dim ${dimP})`);
  }
  const stride = dims[1] * dimP;
  return Array.from({ length: B }, (_, b) =>
    unpatchify(out.subarray(b * stride, b * stride + nImg * dimP), C, H, W, p),
  );
}
