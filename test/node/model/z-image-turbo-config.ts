/**
 * The architecture fields of Z-Image-Turbo's transformer/config.json (spec §1.2): the real 6.15B model whose
 * key table is spec/transformer_keys.tsv. Shared by the model tests and the full-size conversion benches.
 */
export const Z_IMAGE_TURBO_TRANSFORMER = {
  all_f_patch_size: [1],
  all_patch_size: [2],
  axes_dims: [32, 48, 48],
  axes_lens: [1536, 512, 512],
  cap_feat_dim: 2560,
  dim: 3840,
  in_channels: 16,
  n_heads: 30,
  n_kv_heads: 30,
  n_layers: 30,
  n_refiner_layers: 2,
  norm_eps: 1e-5,
  qk_norm: true,
  rope_theta: 256.0,
  t_scale: 1000.0,
};
