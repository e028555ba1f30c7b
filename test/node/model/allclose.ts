/** Max over i of |a-b| - (atol + rtol|ref|): <= 0 means numpy's allclose holds (the golden tolerances). */
export function excess(got: Float32Array, ref: Float32Array, atol: number, rtol: number): number {
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < ref.length; i++)
    worst = Math.max(worst, Math.abs(got[i] - ref[i]) - (atol + rtol * Math.abs(ref[i])));
  return worst;
}
