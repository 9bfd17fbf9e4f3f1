/**
 * Minimum-cost assignment (Hungarian / Kuhn-Munkres with potentials, O(n^2 m)).
 *
 * Hand-written: ~50 lines, and the matrices are tiny (faces in one frame x live tracks), so a
 * dependency would be all cost. Pairs that must never be matched carry a cost >= `forbidden`;
 * since one forbidden pair costs more than any set of allowed ones, the result has the largest
 * number of allowed pairs and, among those, the lowest total cost; forbidden pairs are dropped.
 */

/** cost[i][j] for rows i, columns j (rectangular allowed). Returns the column of each row, or -1. */
export function assign(cost: readonly (readonly number[])[], forbidden = 1e6): number[] {
  const rows = cost.length;
  const cols = rows ? cost[0].length : 0;
  if (rows === 0 || cols === 0) return new Array(rows).fill(-1);
  const transpose = rows > cols;
  const n = transpose ? cols : rows; // n <= m
  const m = transpose ? rows : cols;
  const a = (i: number, j: number) => {
    const v = transpose ? cost[j][i] : cost[i][j];
    return Number.isFinite(v) ? Math.min(v, forbidden) : forbidden;
  };
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1); // p[j]: row (1-based) matched to column j
  const way = new Int32Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(m + 1).fill(Infinity);
    const used = new Uint8Array(m + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = a(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  const out: number[] = new Array(rows).fill(-1);
  for (let j = 1; j <= m; j++) {
    if (p[j] === 0) continue;
    const r = p[j] - 1;
    const c = j - 1;
    const [row, col] = transpose ? [c, r] : [r, c];
    if (a(r, c) < forbidden) out[row] = col;
  }
  return out;
}
