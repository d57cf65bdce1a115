/**
 * A bounded latency histogram in microseconds: fixed memory (240 counters, about 2 KB) however
 * many values it takes, as HdrHistogram does with fewer buckets.
 *
 * Log-linear buckets: below 16 µs one bucket per whole microsecond; from 16 µs up, each power
 * of two is cut into 8 equal sub-buckets. A percentile is reported as the middle of its
 * bucket, so it is within 6.25% of the true value (within 0.5 µs below 16 µs). Values from
 * 2^32 µs (about 71 minutes) up all land in the last bucket.
 */

/** Sub-buckets per power of two: 8 gives 12.5% wide buckets. */
const SUB_BITS = 3;
const SUB = 1 << SUB_BITS;
/** Below this, one bucket per microsecond (2 × SUB, where the log-linear part starts). */
const LINEAR = 2 * SUB;
const LINEAR_BITS = 4;
/** 16 linear buckets, then 8 for each power of two from 2^4 to 2^31. */
export const BUCKETS = LINEAR + (32 - LINEAR_BITS) * SUB;

/** The bucket of a duration in microseconds. */
export function bucketOf(micros: number): number {
  // `>>> 0` after the clamp: a whole number from 0 to 2^32 - 1 (NaN and negatives become 0).
  const v = micros >= 4294967295 ? 4294967295 : micros > 0 ? Math.floor(micros) >>> 0 : 0;
  if (v < LINEAR) return v;
  const exponent = 31 - Math.clz32(v);
  return LINEAR + (exponent - LINEAR_BITS) * SUB + ((v >>> (exponent - SUB_BITS)) & (SUB - 1));
}

/** The smallest duration (µs) a bucket holds; its upper bound is the next bucket's lower bound. */
export function bucketLowerBound(bucket: number): number {
  if (bucket < LINEAR) return bucket;
  const exponent = LINEAR_BITS + Math.floor((bucket - LINEAR) / SUB);
  const sub = (bucket - LINEAR) % SUB;
  return 2 ** exponent + sub * 2 ** (exponent - SUB_BITS);
}

/** Where a bucket's values are reported: its middle (a whole microsecond in the linear part stays itself). */
function bucketValue(bucket: number): number {
  if (bucket < LINEAR) return bucket;
  return (bucketLowerBound(bucket) + bucketLowerBound(bucket + 1)) / 2;
}

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  total = 0;

  record(micros: number): void {
    this.counts[bucketOf(micros)]!++;
    this.total++;
  }

  /** The value at `percentile` (0–100) of what was recorded, in microseconds; 0 when empty. */
  percentile(percentile: number): number {
    if (this.total === 0) return 0;
    // The rank of the value asked for, 1-based: p99 of 1,000 values is the 990th smallest.
    const rank = Math.max(1, Math.ceil((percentile / 100) * this.total));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return bucketValue(bucket);
    }
    return bucketValue(BUCKETS - 1);
  }

  /** How many values are below `micros` (a bucket boundary: every power of two is one). */
  countBelow(micros: number): number {
    let count = 0;
    for (let bucket = 0; bucket < BUCKETS && bucketLowerBound(bucket + 1) <= micros; bucket++) count += this.counts[bucket]!;
    return count;
  }
}
