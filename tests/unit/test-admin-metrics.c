/* --action=metrics: the exposition text from properties and GetStatistics(). */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "ddr-admin-metrics.h"
#include "ddr-roam-state.h"
#include "ddr-stats-variant.h"

static GVariant *
props_for (const char *state, gboolean protected)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "State", g_variant_new_string (state));
  g_variant_builder_add (&b, "{sv}", "Protected", g_variant_new_boolean (protected));
  g_variant_builder_add (&b, "{sv}", "UnprotectedSince",
                         g_variant_new_uint64 (protected ? 0 : 1765000000));
  g_variant_builder_add (&b, "{sv}", "ServiceReachable", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "Version", g_variant_new_string ("0.1.0"));
  g_variant_builder_add (&b, "{sv}", "DnsBackend", g_variant_new_string ("networkmanager"));
  /* private: a network's name (hostile, unbounded) and portal never reach the text */
  g_variant_builder_add (&b, "{sv}", "Network", g_variant_new_string ("Hotel \"Secret\" Wi-Fi"));
  g_variant_builder_add (&b, "{sv}", "PortalUrl",
                         g_variant_new_string ("http://login.hotel.example/?room=12"));
  g_variant_builder_add (&b, "{sv}", "Reason", g_variant_new_string ("on Hotel Wi-Fi"));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* The sample lines of threatstop_ddr_state: state -> value. */
static GHashTable *
state_samples (const char *text)
{
  GHashTable *out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i]; i++)
    {
      const char *prefix = "threatstop_ddr_state{state=\"";
      const char *end;

      if (!g_str_has_prefix (lines[i], prefix))
        continue;
      end = strstr (lines[i], "\"} ");
      g_assert_nonnull (end);
      g_hash_table_insert (out, g_strndup (lines[i] + strlen (prefix),
                                           end - lines[i] - strlen (prefix)),
                           GINT_TO_POINTER (atoi (end + 3)));
    }
  return out;
}

static void
test_states_are_design_states (void)
{
  const char *const *states = ddr_admin_metrics_states ();
  guint n = g_strv_length ((char **) states);

  /* every state the daemon can publish, then "stopped" */
  for (DdrRoamState s = DDR_ROAM_STARTING; s <= DDR_ROAM_PAUSED; s++)
    g_assert_true (g_strv_contains (states, ddr_roam_state_to_string (s)));
  g_assert_cmpuint (n, ==, DDR_ROAM_PAUSED + 2);
  g_assert_cmpstr (states[n - 1], ==, "stopped");
}

static void
test_one_hot (void)
{
  const char *const *states = ddr_admin_metrics_states ();
  const char *const unknown[] = { "hibernating", NULL };

  for (guint round = 0; round < 2; round++)
    for (const char *const *s = round ? unknown : states; *s; s++)
      {
        g_autoptr(GVariant) props = props_for (*s, g_str_equal (*s, "protected"));
        g_autofree char *text = g_str_equal (*s, "stopped")
                                ? ddr_admin_metrics_text (NULL, NULL)
                                : ddr_admin_metrics_text (props, NULL);
        g_autoptr(GHashTable) samples = state_samples (text);
        GHashTableIter iter;
        gpointer key, value;
        guint ones = 0;

        /* every known state listed, exactly one at 1: the current one */
        for (const char *const *k = states; *k; k++)
          g_assert_true (g_hash_table_contains (samples, *k));
        g_hash_table_iter_init (&iter, samples);
        while (g_hash_table_iter_next (&iter, &key, &value))
          {
            g_assert_cmpint (GPOINTER_TO_INT (value), ==, g_str_equal (key, *s) ? 1 : 0);
            ones += GPOINTER_TO_INT (value);
          }
        g_assert_cmpuint (ones, ==, 1);
        g_assert_nonnull (strstr (text, g_str_equal (*s, "stopped") ? "\nthreatstop_ddr_up 0\n"
                                                                   : "\nthreatstop_ddr_up 1\n"));
      }
}

static void
test_down (void)
{
  g_autofree char *text = ddr_admin_metrics_text (NULL, NULL);

  g_assert_true (g_str_has_prefix (text, "# HELP threatstop_ddr_up "));
  g_assert_nonnull (strstr (text, "\n# TYPE threatstop_ddr_up gauge\nthreatstop_ddr_up 0\n"));
  g_assert_nonnull (strstr (text, "\nthreatstop_ddr_state{state=\"stopped\"} 1\n"));
  /* nothing is claimed about a daemon that did not answer */
  g_assert_null (strstr (text, "threatstop_ddr_protected"));
  g_assert_null (strstr (text, "threatstop_ddr_info"));
  g_assert_null (strstr (text, "_total"));
}

static GVariant *
statistics (const char *url)
{
  DdrStats st = { 0 };
  DdrUpstreamInfo ups[2] = { 0 };

  /* distinct values, so a key mapped to the wrong metric shows */
  st.queries = 101;
  st.cache_hits = 102;
  st.servfail = 103;
  st.refused = 104;
  st.malformed = 105;
  st.inflight_overflow = 106;
  st.network_events = 107;
  st.local_forwarded = 108;
  ddr_stats_record_latency (&st, 1500);
  ups[0].url = url;
  ups[0].healthy = TRUE;
  ups[0].queries = 201;
  ups[0].errors = 202;
  ups[1].url = "https://b.example/dns-query";
  ups[1].queries = 301;
  ups[1].errors = 302;
  return g_variant_ref_sink (ddr_stats_to_variant (&st, 7, ups, 2, 3600));
}

static void
test_values_and_names (void)
{
  g_autoptr(GVariant) props = props_for ("protected", TRUE);
  g_autoptr(GVariant) st = statistics ("https://a.example/dns-query?x=\"1\"\\\n");
  g_autofree char *text = ddr_admin_metrics_text (props, st);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  const char *expected[] = {
    "threatstop_ddr_up 1",
    "threatstop_ddr_protected 1",
    "threatstop_ddr_unprotected_since_seconds 0",
    "threatstop_ddr_service_reachable 1",
    "threatstop_ddr_info{version=\"0.1.0\",backend=\"networkmanager\"} 1",
    "threatstop_ddr_queries_total 101",
    "threatstop_ddr_cache_hits_total 102",
    "threatstop_ddr_servfail_answers_total 103",
    "threatstop_ddr_refused_queries_total 104",
    "threatstop_ddr_malformed_queries_total 105",
    "threatstop_ddr_overflow_queries_total 106",
    "threatstop_ddr_network_events_total 107",
    "threatstop_ddr_local_forwards_total 108",
    "threatstop_ddr_inflight_queries 7",
    "threatstop_ddr_uptime_seconds 3600",
    /* label values escaped as the format says: \\ \" \n */
    "threatstop_ddr_upstream_healthy{url=\"https://a.example/dns-query?x=\\\"1\\\"\\\\\\n\"} 1",
    "threatstop_ddr_upstream_healthy{url=\"https://b.example/dns-query\"} 0",
    "threatstop_ddr_upstream_queries_total{url=\"https://b.example/dns-query\"} 301",
    "threatstop_ddr_upstream_errors_total{url=\"https://b.example/dns-query\"} 302",
  };
  g_autofree char *previous_family = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_true (g_strv_contains ((const char *const *) lines, expected[i]));
  /* the latency is in seconds, not microseconds */
  g_assert_nonnull (strstr (text, "\nthreatstop_ddr_answer_latency_p50_seconds 0.00"));
  g_assert_nonnull (strstr (text, "\nthreatstop_ddr_answer_latency_p99_seconds 0.00"));
  g_assert_null (strstr (text, "Hotel"));
  g_assert_null (strstr (text, "hotel"));

  /* every sample follows its own # HELP and # TYPE; counters end in _total */
  for (guint i = 0; lines[i] && *lines[i]; i++)
    {
      g_autofree char *name = NULL;

      if (g_str_has_prefix (lines[i], "# HELP "))
        {
          g_auto(GStrv) help = g_strsplit (lines[i], " ", 4);
          g_auto(GStrv) type = g_strsplit (lines[i + 1], " ", 4);

          g_assert_cmpstr (type[1], ==, "TYPE");
          g_assert_cmpstr (type[2], ==, help[2]);
          g_assert_true (g_str_equal (type[3], "counter") == g_str_has_suffix (help[2], "_total"));
          g_clear_pointer (&previous_family, g_free);
          previous_family = g_strdup (help[2]);
          i++;
          continue;
        }
      name = g_strndup (lines[i], strcspn (lines[i], "{ "));
      g_assert_cmpstr (name, ==, previous_family);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/admin-metrics/states-are-design-states", test_states_are_design_states);
  g_test_add_func ("/admin-metrics/one-hot", test_one_hot);
  g_test_add_func ("/admin-metrics/down", test_down);
  g_test_add_func ("/admin-metrics/values-and-names", test_values_and_names);
  return g_test_run ();
}
