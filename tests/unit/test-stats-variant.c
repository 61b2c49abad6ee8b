/* GetStatistics()'s dictionary: the documented keys with the documented types. */
#include <glib.h>

#include "ddr-stats-variant.h"

static void
test_keys_and_types (void)
{
  DdrStats stats;
  DdrUpstreamInfo ups[2] = {
    { .url = "https://a.test/dns-query", .healthy = TRUE, .queries = 7, .errors = 1 },
    { .url = "https://b.test/dns-query", .healthy = FALSE, .queries = 2, .errors = 2 },
  };
  static const char *t_keys[] = { "queries", "cache_hits", "servfail", "refused", "malformed",
                                  "inflight_overflow", "upstream_errors", "network_events" };
  static const char *u_keys[] = { "latency_p50_us", "latency_p99_us", "inflight", "uptime_s" };
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) first = NULL;
  guint64 q = 0;
  const char *url = NULL;
  gboolean healthy = FALSE;

  ddr_stats_reset (&stats);
  stats.queries = 42;
  stats.network_events = 3;
  stats.local_forwarded = 11;
  for (int i = 0; i < 100; i++)
    ddr_stats_record_latency (&stats, 250);
  v = g_variant_ref_sink (ddr_stats_to_variant (&stats, 5, ups, 2, (guint64) G_MAXUINT32 + 9));

  g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT));
  for (guint i = 0; i < G_N_ELEMENTS (t_keys); i++)
    {
      g_autoptr(GVariant) x = g_variant_lookup_value (v, t_keys[i], NULL);
      g_assert_nonnull (x);
      g_assert_true (g_variant_is_of_type (x, G_VARIANT_TYPE_UINT64));
    }
  for (guint i = 0; i < G_N_ELEMENTS (u_keys); i++)
    {
      g_autoptr(GVariant) x = g_variant_lookup_value (v, u_keys[i], NULL);
      g_assert_nonnull (x);
      g_assert_true (g_variant_is_of_type (x, G_VARIANT_TYPE_UINT32));
    }
  g_assert_true (g_variant_lookup (v, "queries", "t", &q));
  g_assert_cmpuint (q, ==, 42);
  g_assert_true (g_variant_lookup (v, "local_forwarded", "t", &q));
  g_assert_cmpuint (q, ==, 11);
  {
    guint32 p50 = 0, inflight = 0, uptime = 0;
    g_assert_true (g_variant_lookup (v, "latency_p50_us", "u", &p50));
    g_assert_cmpuint (p50, >=, 250);
    g_assert_cmpuint (p50, <=, 260);
    g_assert_true (g_variant_lookup (v, "inflight", "u", &inflight));
    g_assert_cmpuint (inflight, ==, 5);
    /* u keys saturate instead of wrapping */
    g_assert_true (g_variant_lookup (v, "uptime_s", "u", &uptime));
    g_assert_cmpuint (uptime, ==, G_MAXUINT32);
  }

  list = g_variant_lookup_value (v, "upstreams", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_nonnull (list);
  g_assert_cmpuint (g_variant_n_children (list), ==, 2);
  first = g_variant_get_child_value (list, 0);
  g_assert_true (g_variant_lookup (first, "url", "&s", &url));
  g_assert_cmpstr (url, ==, "https://a.test/dns-query");
  g_assert_true (g_variant_lookup (first, "healthy", "b", &healthy));
  g_assert_true (healthy);
  g_assert_true (g_variant_lookup (first, "errors", "t", &q));
  g_assert_cmpuint (q, ==, 1);
}

static void
test_no_upstreams (void)
{
  DdrStats stats;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariant) list = NULL;
  guint32 p99 = 1;

  ddr_stats_reset (&stats);
  v = g_variant_ref_sink (ddr_stats_to_variant (&stats, 0, NULL, 0, 0));
  list = g_variant_lookup_value (v, "upstreams", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_cmpuint (g_variant_n_children (list), ==, 0);
  g_assert_true (g_variant_lookup (v, "latency_p99_us", "u", &p99));
  g_assert_cmpuint (p99, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/stats-variant/keys-and-types", test_keys_and_types);
  g_test_add_func ("/stats-variant/no-upstreams", test_no_upstreams);
  return g_test_run ();
}
