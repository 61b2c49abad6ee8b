/* --action=status: the daemon's state and key statistics, for people or (--json) scripts. */
#include "config.h"

#include <glib/gi18n.h>

#include "ddr-admin-client.h"
#include "ddr-admin-json.h"
#include "ddr-admin-status.h"

GVariant *
ddr_admin_status_to_variant (GVariant *p, GVariant *statistics)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
#define S(key, prop) \
  g_variant_builder_add (&b, "{sv}", key, g_variant_new_string (ddr_admin_lookup_string (p, prop)))
#define B(key, prop) \
  g_variant_builder_add (&b, "{sv}", key, g_variant_new_boolean (ddr_admin_lookup_bool (p, prop)))
#define T(key, prop) \
  g_variant_builder_add (&b, "{sv}", key, g_variant_new_uint64 (ddr_admin_lookup_uint (p, prop)))
  S ("state", "State");
  S ("reason", "Reason");
  B ("protected", "Protected");
  S ("network", "Network");
  S ("service_url", "ServiceUrl");
  B ("service_reachable", "ServiceReachable");
  S ("portal_url", "PortalUrl");
  T ("paused_until", "PausedUntil");
  T ("unprotected_since", "UnprotectedSince");
  S ("dns_backend", "DnsBackend");
  S ("version", "Version");
  S ("last_error", "LastError");
#undef S
#undef B
#undef T
  g_variant_builder_add (&b, "{sv}", "statistics", statistics);
  return g_variant_builder_end (&b);
}

/* A state word as a person reads it; unknown (newer) states are shown as they are. */
static const char *
describe_state (const char *state)
{
  static const struct { const char *state; const char *text; } states[] = {
    { "starting",    N_("starting") },
    { "forwarding",  N_("forwarding (roaming off)") },
    { "offline",     N_("offline") },
    { "probing",     N_("checking the network") },
    { "portal",      N_("captive portal: log in to the network") },
    { "protected",   N_("protected") },
    { "unreachable", N_("the ThreatSTOP service is unreachable") },
    { "trusted",     N_("trusted network") },
    { "paused",      N_("paused") },
  };

  for (guint i = 0; i < G_N_ELEMENTS (states); i++)
    if (g_str_equal (state, states[i].state))
      return _(states[i].text);
  return state;
}

/* One "Label:   value" line, the value escaped. */
static void
print_line (const char *label, const char *value)
{
  g_autofree char *text = ddr_admin_printable (value);

  g_print ("%-24s %s\n", label, text);
}

static char *
format_time (guint64 unix_s)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local ((gint64) unix_s);

  return t ? g_date_time_format (t, "%Y-%m-%d %H:%M:%S") : g_strdup ("?");
}

static const char *
yes_no (gboolean b)
{
  return b ? _("yes") : _("no");
}

static const char *
or_none (const char *s)
{
  return s && *s ? s : _("(none)");
}

static void
print_statistics (GVariant *st)
{
  g_autoptr(GVariant) ups = g_variant_lookup_value (st, "upstreams", G_VARIANT_TYPE ("aa{sv}"));
  guint64 up = ddr_admin_lookup_uint (st, "uptime_s");

  g_print ("%s\n", _("Statistics:"));
  g_print ("  %-22s %" G_GUINT64_FORMAT "\n", _("Queries:"), ddr_admin_lookup_uint (st, "queries"));
  g_print ("  %-22s %" G_GUINT64_FORMAT "\n", _("Cache hits:"),
           ddr_admin_lookup_uint (st, "cache_hits"));
  g_print ("  %-22s %" G_GUINT64_FORMAT "\n", _("SERVFAIL answers:"),
           ddr_admin_lookup_uint (st, "servfail"));
  g_print ("  %-22s %" G_GUINT64_FORMAT "\n", _("Refused:"), ddr_admin_lookup_uint (st, "refused"));
  g_print ("  %-22s %" G_GUINT64_FORMAT "\n", _("Malformed:"),
           ddr_admin_lookup_uint (st, "malformed"));
  g_print ("  %-22s %" G_GUINT64_FORMAT "\n", _("Upstream errors:"),
           ddr_admin_lookup_uint (st, "upstream_errors"));
  g_print ("  %-22s %" G_GUINT64_FORMAT "\n", _("Network events:"),
           ddr_admin_lookup_uint (st, "network_events"));
  g_print ("  %-22s %" G_GUINT64_FORMAT "\n", _("In flight:"), ddr_admin_lookup_uint (st, "inflight"));
  /* TRANSLATORS: median and 99th percentile answer times in milliseconds. */
  g_print ("  %-22s ", _("Latency:"));
  g_print (_("median %.2f ms, 99th percentile %.2f ms\n"),
           ddr_admin_lookup_uint (st, "latency_p50_us") / 1000.0,
           ddr_admin_lookup_uint (st, "latency_p99_us") / 1000.0);
  g_print ("  %-22s ", _("Uptime:"));
  g_print (_("%llu h %02u min %02u s\n"), (unsigned long long) (up / 3600),
           (guint) (up / 60 % 60), (guint) (up % 60));

  if (!ups)
    return;
  for (gsize i = 0; i < g_variant_n_children (ups); i++)
    {
      g_autoptr(GVariant) u = g_variant_get_child_value (ups, i);

      g_autofree char *url = ddr_admin_printable (ddr_admin_lookup_string (u, "url"));

      g_print ("  %-22s %s\n", i == 0 ? _("Upstreams:") : "", url);
      /* TRANSLATORS: one upstream's health, then counts of attempts and failures. */
      g_print ("  %-22s   ", "");
      g_print (_("%s, %llu queries, %llu errors\n"),
               ddr_admin_lookup_bool (u, "healthy") ? _("healthy") : _("failing"),
               (unsigned long long) ddr_admin_lookup_uint (u, "queries"),
               (unsigned long long) ddr_admin_lookup_uint (u, "errors"));
    }
}

static void
print_human (GVariant *p, GVariant *st)
{
  const char *state = ddr_admin_lookup_string (p, "State");
  gboolean protected = ddr_admin_lookup_bool (p, "Protected");
  guint64 unprotected_since = ddr_admin_lookup_uint (p, "UnprotectedSince");
  guint64 paused_until = ddr_admin_lookup_uint (p, "PausedUntil");
  const char *portal = ddr_admin_lookup_string (p, "PortalUrl");
  const char *last_error = ddr_admin_lookup_string (p, "LastError");

  print_line (_("State:"), describe_state (state));
  print_line (_("Reason:"), ddr_admin_lookup_string (p, "Reason"));
  g_print ("%-24s %s\n", _("Protected:"), yes_no (protected));
  if (!protected && unprotected_since != 0)
    {
      g_autofree char *t = format_time (unprotected_since);

      g_print ("%-24s %s\n", _("Unprotected since:"), t);
    }
  if (paused_until == G_MAXUINT64)
    g_print ("%-24s %s\n", _("Paused until:"), _("resumed (--action=resume)"));
  else if (paused_until != 0)
    {
      g_autofree char *t = format_time (paused_until);

      g_print ("%-24s %s\n", _("Paused until:"), t);
    }
  print_line (_("Network:"), or_none (ddr_admin_lookup_string (p, "Network")));
  print_line (_("Service URL:"), or_none (ddr_admin_lookup_string (p, "ServiceUrl")));
  g_print ("%-24s %s\n", _("Service reachable:"),
           yes_no (ddr_admin_lookup_bool (p, "ServiceReachable")));
  if (*portal)
    print_line (_("Portal:"), portal);
  print_line (_("DNS backend:"), or_none (ddr_admin_lookup_string (p, "DnsBackend")));
  if (*last_error)
    print_line (_("Last error:"), last_error);
  print_line (_("Daemon version:"), ddr_admin_lookup_string (p, "Version"));
  print_statistics (st);
}

/* --json with the daemon down: a script still gets an object to parse (and exit 1). */
static int
print_stopped_json (void)
{
  g_autoptr(GVariant) v = NULL;
  g_autofree char *text = NULL;
  /* the same sentence as without --json (one translation) */
  g_autofree char *reason = g_strdup (_("The ThreatSTOP DDR daemon (threatstop-ddrd) is not "
                                        "running.\n"));
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "state", g_variant_new_string ("stopped"));
  g_variant_builder_add (&b, "{sv}", "protected", g_variant_new_boolean (FALSE));
  g_variant_builder_add (&b, "{sv}", "reason", g_variant_new_string (g_strstrip (reason)));
  v = g_variant_ref_sink (g_variant_builder_end (&b));
  text = ddr_admin_json_string (v);
  g_print ("%s\n", text);
  return 1;
}

int
ddr_admin_status (gboolean json)
{
  g_autoptr(DdrAdminClient) client = ddr_admin_client_new ();
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) stats = NULL;

  if (!client)
    return 1;
  if (json && !ddr_admin_client_daemon_running (client))
    return print_stopped_json ();
  props = ddr_admin_client_get_properties (client);
  if (!props)
    return 1;
  stats = ddr_admin_client_get_statistics (client);
  if (!stats)
    return 1;

  if (json)
    {
      g_autoptr(GVariant) v = g_variant_ref_sink (ddr_admin_status_to_variant (props, stats));
      g_autofree char *text = ddr_admin_json_string (v);

      g_print ("%s\n", text);
    }
  else
    print_human (props, stats);
  return 0;
}
