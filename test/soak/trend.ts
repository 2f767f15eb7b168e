/**
 * Is memory growing? A least-squares line through the samples answers it better than
 * the last sample minus the first.
 */

export interface Point {
  readonly x: number;
  readonly y: number;
}

/**
 * Slope of the ordinary least-squares line through `points` (y per unit of x).
 * A fit, not end minus start: one garbage collection right before the last sample
 * would make a difference of two points say anything.
 */
export function leastSquaresSlope(points: readonly Point[]): number {
  const n = points.length;
  if (n < 2) throw new Error(`a trend needs at least 2 samples, got ${n}`);
  let sumX = 0;
  let sumY = 0;
  for (const p of points) {
    sumX += p.x;
    sumY += p.y;
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  let covariance = 0;
  let varianceX = 0;
  for (const p of points) {
    covariance += (p.x - meanX) * (p.y - meanY);
    varianceX += (p.x - meanX) ** 2;
  }
  if (varianceX === 0) throw new Error("a trend needs samples at different times");
  return covariance / varianceX;
}
