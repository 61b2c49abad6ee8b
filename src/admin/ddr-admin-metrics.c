/* --action=metrics: the daemon's state and statistics in Prometheus' text format 0.0.4. */
#include "config.h"

#include <stdio.h>

#include <glib/gi18n.h>

#include "ddr-admin-client.h"
#include "ddr-admin-metrics.h"

/* Names follow Prometheus' naming guide: one prefix, base units (seconds), _total for
 * counters, a unit word in the plural. The text is read by people as well as by
 * Prometheus, hence HELP in plain English (never translated: it is a data format). */
#define PREFIX "threatstop_ddr_"

static const char *const states[] = {
  "starting", "forwarding", "offline", "probing", "portal", "protected", "unreachable",
  "trusted", "paused", "stopped", NULL
};

/* GetStatistics() keys that are counters, and the names they get. */
static const struct {
  const char *key;
  const char *name;
  const char *help;
} counters[] = {
  { "queries", "queries_total", "DNS queries the relay received." },
  { "cache_hits", "cache_hits_total", "Queries answered from the relay's cache." },
  { "servfail", "servfail_answers_total", "SERVFAIL answers the relay gave." },
  { "refused", "refused_queries_total", "Queries refused (outside the ACL)." },
  { "malformed", "malformed_queries_total", "Malformed queries (FORMERR or dropped)." },
  { "inflight_overflow", "overflow_queries_total",
    "Queries answered SERVFAIL because max-inflight queries were already in flight." },
  { "network_events", "network_events_total",
    "Network events the daemon was told of (NetworkManager dispatcher)." },
  { "local_forwarded", "local_forwards_total",
    "Queries sent to a network's own DNS server (split DNS) instead of the service." },
};

const char *const *
ddr_admin_metrics_states (void)
{
  return states;
}

static void
family (GString *out, const char *name, const char *type, const char *help)
{
  g_string_append_printf (out, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n",
                          name, help, name, type);
}

/* A label value as the format wants it: backslash, double quote and line feed escaped. */
static void
append_label_value (GString *out, const char *value)
{
  for (const char *p = value; *p; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '"')
        g_string_append (out, "\\\"");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

static void
gauge (GString *out, const char *name, const char *help, guint64 value)
{
  family (out, name, "gauge", help);
  g_string_append_printf (out, PREFIX "%s %" G_GUINT64_FORMAT "\n", name, value);
}

static void
seconds_gauge (GString *out, const char *name, const char *help, guint64 microseconds)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  family (out, name, "gauge", help);
  g_string_append_printf (out, PREFIX "%s %s\n", name,
                          g_ascii_formatd (buf, sizeof buf, "%.6f", microseconds / 1e6));
}

static void
state_family (GString *out, const char *current)
{
  gboolean known = FALSE;

  family (out, "state", "gauge",
          "The daemon's state (1 for the current one): see threatstop-ddrd(8).");
  for (guint i = 0; states[i]; i++)
    {
      gboolean on = g_str_equal (states[i], current);

      known |= on;
      g_string_append_printf (out, PREFIX "state{state=\"%s\"} %d\n", states[i], on);
    }
  /* A daemon newer than this CLI may know more states: still say which one. */
  if (!known)
    {
      g_string_append (out, PREFIX "state{state=\"");
      append_label_value (out, current);
      g_string_append (out, "\"} 1\n");
    }
}

static void
upstream_family (GString *out, GVariant *ups, const char *name, const char *type,
                 const char *help, const char *key)
{
  family (out, name, type, help);
  for (gsize i = 0; i < g_variant_n_children (ups); i++)
    {
      g_autoptr(GVariant) u = g_variant_get_child_value (ups, i);
      guint64 value = g_str_equal (key, "healthy") ? (guint64) ddr_admin_lookup_bool (u, key)
                                                   : ddr_admin_lookup_uint (u, key);

      g_string_append (out, PREFIX);
      g_string_append (out, name);
      g_string_append (out, "{url=\"");
      append_label_value (out, ddr_admin_lookup_string (u, "url"));
      g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", value);
    }
}

static void
statistics_families (GString *out, GVariant *st)
{
  g_autoptr(GVariant) ups = g_variant_lookup_value (st, "upstreams", G_VARIANT_TYPE ("aa{sv}"));

  for (guint i = 0; i < G_N_ELEMENTS (counters); i++)
    {
      family (out, counters[i].name, "counter", counters[i].help);
      g_string_append_printf (out, PREFIX "%s %" G_GUINT64_FORMAT "\n", counters[i].name,
                              ddr_admin_lookup_uint (st, counters[i].key));
    }
  gauge (out, "inflight_queries", "Queries waiting for an upstream's answer now.",
         ddr_admin_lookup_uint (st, "inflight"));
  seconds_gauge (out, "answer_latency_p50_seconds",
                 "Median time the relay took to answer, over recent queries.",
                 ddr_admin_lookup_uint (st, "latency_p50_us"));
  seconds_gauge (out, "answer_latency_p99_seconds",
                 "99th percentile of the time the relay took to answer, over recent queries.",
                 ddr_admin_lookup_uint (st, "latency_p99_us"));
  gauge (out, "uptime_seconds", "Seconds since the daemon started.",
         ddr_admin_lookup_uint (st, "uptime_s"));
  if (!ups || g_variant_n_children (ups) == 0)
    return;
  upstream_family (out, ups, "upstream_healthy", "gauge",
                   "Whether the DoH upstream answers (1) or is failing (0).", "healthy");
  upstream_family (out, ups, "upstream_queries_total", "counter",
                   "Queries sent to the DoH upstream.", "queries");
  upstream_family (out, ups, "upstream_errors_total", "counter",
                   "Queries the DoH upstream did not answer.", "errors");
}

char *
ddr_admin_metrics_text (GVariant *props, GVariant *statistics)
{
  GString *out = g_string_new (NULL);

  gauge (out, "up", "Whether the daemon answered on the system bus (1) or not (0).",
         props != NULL);
  state_family (out, props ? ddr_admin_lookup_string (props, "State") : "stopped");
  if (!props)
    return g_string_free (out, FALSE);

  gauge (out, "protected", "Whether the system's DNS goes through the ThreatSTOP service (1).",
         ddr_admin_lookup_bool (props, "Protected"));
  gauge (out, "unprotected_since_seconds",
         "Unix time since which the system has not been protected; 0 while protected "
         "or when roaming is off.",
         ddr_admin_lookup_uint (props, "UnprotectedSince"));
  gauge (out, "service_reachable", "Whether the ThreatSTOP service answers over DoH (1).",
         ddr_admin_lookup_bool (props, "ServiceReachable"));
  family (out, "info", "gauge", "The daemon's version and DNS steering backend (always 1).");
  g_string_append (out, PREFIX "info{version=\"");
  append_label_value (out, ddr_admin_lookup_string (props, "Version"));
  g_string_append (out, "\",backend=\"");
  append_label_value (out, ddr_admin_lookup_string (props, "DnsBackend"));
  g_string_append (out, "\"} 1\n");
  if (statistics)
    statistics_families (out, statistics);
  return g_string_free (out, FALSE);
}

int
ddr_admin_metrics (const char *output)
{
  g_autoptr(DdrAdminClient) client = ddr_admin_client_new ();
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  /* The client has said on stderr why the daemon cannot be reached; the text says
   * threatstop_ddr_up 0 and the exit status stays 0. */
  if (client)
    props = ddr_admin_client_get_properties (client);
  if (props)
    stats = ddr_admin_client_get_statistics (client);
  text = ddr_admin_metrics_text (props, stats);
  if (!output)
    {
      fputs (text, stdout);
      return 0;
    }
  /* A temp file in the same directory, then rename(): node_exporter's textfile
   * collector never reads half a file (and ignores the temp name, not *.prom). */
  if (!g_file_set_contents_full (output, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                 &error))
    {
      g_printerr (_("threatstop-ddr-admin: cannot write the metrics: %s\n"), error->message);
      return 1;
    }
  return 0;
}
