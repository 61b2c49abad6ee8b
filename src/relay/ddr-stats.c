/* Relay statistics: counters and a log-linear latency histogram. Pure code, no I/O. */
#define G_LOG_DOMAIN "ddr-stats"

#include "ddr-stats.h"

#include <string.h>

/*
 * Bucket layout. A latency v ≥ 1 µs has an octave g = floor(log2 v) and a
 * position inside it given by the SUB_BITS bits that follow the leading one:
 *
 *   index = g * 32 + s,   bucket (g, s) = [2^g (1 + s/32), 2^g (1 + (s+1)/32))
 *
 * 27 octaves reach 2^27 µs ≈ 134 s (the last octave starts at ~67 s). A bucket
 * is 1/32 of its lower bound wide, so the upper bound returned by a quantile
 * overstates the true value by less than 1/32 ≈ 3.1 % of it (under the 4 %
 * the header promises). Below 32 µs buckets are narrower than 1 µs and each
 * value has its own bucket: there, quantiles are exact. 0 µs counts as 1 µs;
 * anything from 2^27 µs up lands in the last bucket and reads as 2^27 - 1 µs.
 */
#define SUB_BITS     5
#define N_OCTAVES    (DDR_STATS_N_BUCKETS / DDR_STATS_SUB_BUCKETS)

G_STATIC_ASSERT (DDR_STATS_SUB_BUCKETS == (1 << SUB_BITS));
G_STATIC_ASSERT (DDR_STATS_N_BUCKETS % DDR_STATS_SUB_BUCKETS == 0);

void
ddr_stats_reset (DdrStats *stats)
{
  g_return_if_fail (stats != NULL);

  memset (stats, 0, sizeof *stats);
}

static guint
bucket_index (guint64 usec)
{
  guint octave, sub;

  if (usec == 0)
    usec = 1;

  /* floor (log2 usec); usec ≠ 0 here. */
  octave = 63 - (guint) __builtin_clzll (usec);
  if (octave >= N_OCTAVES)
    return DDR_STATS_N_BUCKETS - 1;

  if (octave >= SUB_BITS)
    sub = (guint) (usec >> (octave - SUB_BITS)) & (DDR_STATS_SUB_BUCKETS - 1);
  else
    sub = (guint) (usec << (SUB_BITS - octave)) & (DDR_STATS_SUB_BUCKETS - 1);

  return octave * DDR_STATS_SUB_BUCKETS + sub;
}

/* Largest whole number of µs that falls into bucket `index`. For the narrow
 * buckets below 32 µs this is the one value the bucket can hold (empty buckets
 * there never hold a quantile, so their bound does not matter). */
static guint64
bucket_upper_bound (guint index)
{
  guint octave = index / DDR_STATS_SUB_BUCKETS;
  guint sub = index % DDR_STATS_SUB_BUCKETS;

  if (octave >= SUB_BITS)
    return ((guint64) (DDR_STATS_SUB_BUCKETS + sub + 1) << (octave - SUB_BITS)) - 1;

  return ((guint64) 1 << octave) + (sub >> (SUB_BITS - octave));
}

void
ddr_stats_record_latency (DdrStats *stats, guint64 usec)
{
  g_return_if_fail (stats != NULL);

  stats->latency_buckets[bucket_index (usec)]++;
  stats->latency_count++;
}

guint64
ddr_stats_latency_quantile (const DdrStats *stats, double p)
{
  guint64 rank, seen = 0;
  guint last_used = 0;
  double exact;

  g_return_val_if_fail (stats != NULL, 0);

  if (stats->latency_count == 0)
    return 0;

  if (!(p > 0.0))      /* also catches NaN */
    p = 0.0;
  else if (p > 1.0)
    p = 1.0;

  /* Nearest-rank definition: the smallest value with at least p·n samples at
   * or below it; p = 0 gives the minimum. */
  exact = p * (double) stats->latency_count;
  rank = (guint64) exact;      /* ceil without libm */
  if ((double) rank < exact)
    rank++;
  if (rank == 0)
    rank = 1;

  for (guint i = 0; i < DDR_STATS_N_BUCKETS; i++)
    {
      if (stats->latency_buckets[i] == 0)
        continue;
      seen += stats->latency_buckets[i];
      last_used = i;
      if (seen >= rank)
        return bucket_upper_bound (i);
    }

  /* Only if latency_count disagrees with the buckets (a caller edited them). */
  return bucket_upper_bound (last_used);
}
