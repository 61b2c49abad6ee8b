/* Unit tests for relay statistics: reset and the latency histogram's quantiles. */
#include "ddr-stats.h"

#include <string.h>

/* The documented error: a quantile is the upper bound of its bucket, which
 * overstates the true value by less than 1/32 of it, and never understates it. */
static void
assert_close (guint64 got, guint64 truth)
{
  if (got < truth || (got - truth) * 32 >= truth)
    g_test_message ("got %" G_GUINT64_FORMAT " for %" G_GUINT64_FORMAT, got, truth);
  g_assert_cmpuint (got, >=, truth);
  g_assert_cmpuint ((got - truth) * 32, <, truth);
}

static void
test_stats_empty (void)
{
  g_autofree DdrStats *stats = g_new (DdrStats, 1);

  memset (stats, 0xa5, sizeof *stats);
  ddr_stats_reset (stats);
  g_assert_cmpuint (stats->queries, ==, 0);
  g_assert_cmpuint (stats->tcp_timeouts, ==, 0);
  g_assert_cmpuint (stats->latency_count, ==, 0);
  for (guint i = 0; i < DDR_STATS_N_BUCKETS; i++)
    g_assert_cmpuint (stats->latency_buckets[i], ==, 0);

  g_assert_cmpuint (ddr_stats_latency_quantile (stats, 0.0), ==, 0);
  g_assert_cmpuint (ddr_stats_latency_quantile (stats, 0.5), ==, 0);
  g_assert_cmpuint (ddr_stats_latency_quantile (stats, 1.0), ==, 0);
}

static void
test_stats_single (void)
{
  g_autofree DdrStats *stats = g_new0 (DdrStats, 1);

  ddr_stats_record_latency (stats, 12345);
  g_assert_cmpuint (stats->latency_count, ==, 1);
  assert_close (ddr_stats_latency_quantile (stats, 0.0), 12345);
  assert_close (ddr_stats_latency_quantile (stats, 0.5), 12345);
  assert_close (ddr_stats_latency_quantile (stats, 1.0), 12345);

  ddr_stats_reset (stats);
  g_assert_cmpuint (ddr_stats_latency_quantile (stats, 0.5), ==, 0);
}

/* Below 32 µs every value has a bucket of its own: quantiles are exact. */
static void
test_stats_small_exact (void)
{
  g_autofree DdrStats *stats = g_new0 (DdrStats, 1);

  for (guint64 v = 1; v <= 31; v++)
    {
      ddr_stats_reset (stats);
      ddr_stats_record_latency (stats, v);
      g_assert_cmpuint (ddr_stats_latency_quantile (stats, 0.5), ==, v);
    }

  /* 0 µs is counted as 1 µs. */
  ddr_stats_reset (stats);
  ddr_stats_record_latency (stats, 0);
  g_assert_cmpuint (ddr_stats_latency_quantile (stats, 0.5), ==, 1);
}

/* Every value from 1 µs to past the top: in its bucket, within the error. */
static void
test_stats_every_value_bounded (void)
{
  g_autofree DdrStats *stats = g_new0 (DdrStats, 1);
  const guint64 top = ((guint64) 1 << 27) - 1;

  for (guint64 v = 1; v <= top; v = v < 100000 ? v + 1 : v + v / 1000 + 7)
    {
      ddr_stats_reset (stats);
      ddr_stats_record_latency (stats, v);
      assert_close (ddr_stats_latency_quantile (stats, 1.0), v);
    }
  ddr_stats_reset (stats);
  ddr_stats_record_latency (stats, top);
  g_assert_cmpuint (ddr_stats_latency_quantile (stats, 1.0), ==, top);
}

/* Uniform 1..10000 µs: the p-quantile is p·10000. */
static void
test_stats_uniform (void)
{
  g_autofree DdrStats *stats = g_new0 (DdrStats, 1);
  const double ps[] = { 0.01, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0 };

  for (guint64 v = 1; v <= 10000; v++)
    ddr_stats_record_latency (stats, v);
  g_assert_cmpuint (stats->latency_count, ==, 10000);

  g_assert_cmpuint (ddr_stats_latency_quantile (stats, 0.0), ==, 1);
  for (gsize i = 0; i < G_N_ELEMENTS (ps); i++)
    assert_close (ddr_stats_latency_quantile (stats, ps[i]), (guint64) (ps[i] * 10000 + 0.5));

  /* Out-of-range p is clamped. */
  g_assert_cmpuint (ddr_stats_latency_quantile (stats, -1.0), ==, 1);
  g_assert_cmpuint (ddr_stats_latency_quantile (stats, 2.0),
                    ==, ddr_stats_latency_quantile (stats, 1.0));
}

/* A typical relay: 90 % cache hits at 50 µs, 9 % at 20 ms, 1 % at 1.5 s. */
static void
test_stats_bimodal (void)
{
  g_autofree DdrStats *stats = g_new0 (DdrStats, 1);

  for (guint i = 0; i < 900; i++)
    ddr_stats_record_latency (stats, 50);
  for (guint i = 0; i < 90; i++)
    ddr_stats_record_latency (stats, 20000);
  for (guint i = 0; i < 10; i++)
    ddr_stats_record_latency (stats, 1500000);

  assert_close (ddr_stats_latency_quantile (stats, 0.5), 50);
  assert_close (ddr_stats_latency_quantile (stats, 0.9), 50);
  assert_close (ddr_stats_latency_quantile (stats, 0.901), 20000);
  assert_close (ddr_stats_latency_quantile (stats, 0.99), 20000);
  assert_close (ddr_stats_latency_quantile (stats, 0.991), 1500000);
  assert_close (ddr_stats_latency_quantile (stats, 1.0), 1500000);
}

static int
compare_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

/* Log-uniform over 21 octaves (8 µs .. 16 s): each quantile within the error of the truth. */
static void
test_stats_log_spread (void)
{
  g_autofree DdrStats *stats = g_new0 (DdrStats, 1);
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (guint64));
  GRand *rand = g_rand_new_with_seed (42);

  for (guint i = 0; i < 20000; i++)
    {
      guint octave = (guint) g_rand_int_range (rand, 3, 24);
      guint64 v = ((guint64) 1 << octave) + (guint64) g_rand_int_range (rand, 0, 1 << octave);

      g_array_append_val (values, v);
      ddr_stats_record_latency (stats, v);
    }
  g_rand_free (rand);

  g_array_sort (values, compare_u64);

  for (guint k = 1; k <= 20; k++)
    {
      /* Half a sample below rank k·n/20, so rounding cannot pick a neighbour. */
      guint64 rank = (guint64) k * values->len / 20;
      double p = ((double) rank - 0.5) / values->len;
      guint64 truth = g_array_index (values, guint64, rank - 1);

      assert_close (ddr_stats_latency_quantile (stats, p), truth);
    }
}

static void
test_stats_huge_values_clamp (void)
{
  g_autofree DdrStats *stats = g_new0 (DdrStats, 1);
  const guint64 last_bound = ((guint64) 1 << 27) - 1;

  ddr_stats_record_latency (stats, G_MAXUINT64);
  ddr_stats_record_latency (stats, (guint64) 1 << 27);
  ddr_stats_record_latency (stats, (guint64) 3600 * G_USEC_PER_SEC);
  g_assert_cmpuint (stats->latency_count, ==, 3);
  g_assert_cmpuint (stats->latency_buckets[DDR_STATS_N_BUCKETS - 1], ==, 3);
  g_assert_cmpuint (ddr_stats_latency_quantile (stats, 0.0), ==, last_bound);
  g_assert_cmpuint (ddr_stats_latency_quantile (stats, 1.0), ==, last_bound);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stats/empty", test_stats_empty);
  g_test_add_func ("/stats/single", test_stats_single);
  g_test_add_func ("/stats/small-exact", test_stats_small_exact);
  g_test_add_func ("/stats/every-value-bounded", test_stats_every_value_bounded);
  g_test_add_func ("/stats/uniform", test_stats_uniform);
  g_test_add_func ("/stats/bimodal", test_stats_bimodal);
  g_test_add_func ("/stats/log-spread", test_stats_log_spread);
  g_test_add_func ("/stats/huge-values-clamp", test_stats_huge_values_clamp);

  return g_test_run ();
}
