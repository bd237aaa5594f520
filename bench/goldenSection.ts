/**
 * Golden-section search for the minimum of a unimodal `f` on [lo, hi] after `iters` narrowings:
 * the final bracket [a, b] and its two inner points c < d with their values.
 */
export function goldenSection(f: (x: number) => number, lo: number, hi: number, iters: number): { a: number; b: number; c: number; d: number; fc: number; fd: number } {
  const r = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - r * (b - a);
  let d = a + r * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < iters; i++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - r * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + r * (b - a);
      fd = f(d);
    }
  }
  return { a, b, c, d, fc, fd };
}
