/**
 * A key -> shape table written with the VAE's layer kinds (diffusers' `Conv2d`, `GroupNorm`, `ResnetBlock2D`,
 * `UNetMidBlock2D`), which both halves of the VAE share (vae-decoder-config.ts, vae-encoder-config.ts).
 */
export function vaeShapeTable() {
  const shapes = new Map<string, number[]>();
  const conv = (key: string, out: number, inp: number, k: number) => {
    shapes.set(`${key}.weight`, [out, inp, k, k]);
    shapes.set(`${key}.bias`, [out]);
  };
  const vec = (key: string, n: number) => {
    shapes.set(`${key}.weight`, [n]);
    shapes.set(`${key}.bias`, [n]);
  };
  const resnet = (key: string, inp: number, out: number) => {
    vec(`${key}.norm1`, inp);
    conv(`${key}.conv1`, out, inp, 3);
    vec(`${key}.norm2`, out);
    conv(`${key}.conv2`, out, out, 3);
    if (inp !== out) conv(`${key}.conv_shortcut`, out, inp, 1);
  };
  /** Resnet, optional single-head attention, resnet, all at `channels`. */
  const midBlock = (prefix: string, channels: number, attention: boolean) => {
    resnet(`${prefix}.resnets.0`, channels, channels);
    if (attention) {
      const a = `${prefix}.attentions.0`;
      vec(`${a}.group_norm`, channels);
      for (const p of ["to_q", "to_k", "to_v", "to_out.0"]) {
        shapes.set(`${a}.${p}.weight`, [channels, channels]);
        shapes.set(`${a}.${p}.bias`, [channels]);
      }
    }
    resnet(`${prefix}.resnets.1`, channels, channels);
  };
  return { shapes, conv, vec, resnet, midBlock };
}
