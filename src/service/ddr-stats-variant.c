/* GetStatistics(): relay counters as the a{sv} dictionary DESIGN.md names. Pure code. */
#include "ddr-stats-variant.h"

/* The u-typed keys are documented as 32-bit; saturate rather than wrap. */
static GVariant *
new_u32 (guint64 v)
{
  return g_variant_new_uint32 (v > G_MAXUINT32 ? G_MAXUINT32 : (guint32) v);
}

static void
add_t (GVariantBuilder *b, const char *key, guint64 v)
{
  g_variant_builder_add (b, "{sv}", key, g_variant_new_uint64 (v));
}

GVariant *
ddr_stats_to_variant (const DdrStats        *s,
                      guint                  inflight,
                      const DdrUpstreamInfo *upstreams,
                      guint                  n_upstreams,
                      guint64                uptime_s)
{
  GVariantBuilder b, ups;

  g_return_val_if_fail (s != NULL, NULL);
  g_return_val_if_fail (upstreams != NULL || n_upstreams == 0, NULL);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  /* The contract (DESIGN.md "D-Bus API"): never rename or retype these. */
  add_t (&b, "queries", s->queries);
  add_t (&b, "cache_hits", s->cache_hits);
  add_t (&b, "servfail", s->servfail);
  add_t (&b, "refused", s->refused);
  add_t (&b, "malformed", s->malformed);
  add_t (&b, "inflight_overflow", s->inflight_overflow);
  add_t (&b, "upstream_errors", s->upstream_errors);
  add_t (&b, "network_events", s->network_events);
  g_variant_builder_add (&b, "{sv}", "latency_p50_us",
                         new_u32 (ddr_stats_latency_quantile (s, 0.5)));
  g_variant_builder_add (&b, "{sv}", "latency_p99_us",
                         new_u32 (ddr_stats_latency_quantile (s, 0.99)));
  g_variant_builder_add (&b, "{sv}", "inflight", new_u32 (inflight));
  g_variant_builder_add (&b, "{sv}", "uptime_s", new_u32 (uptime_s));

  g_variant_builder_init (&ups, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < n_upstreams; i++)
    {
      g_variant_builder_open (&ups, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&ups, "{sv}", "url",
                             g_variant_new_string (upstreams[i].url ? upstreams[i].url : ""));
      g_variant_builder_add (&ups, "{sv}", "healthy", g_variant_new_boolean (upstreams[i].healthy));
      add_t (&ups, "queries", upstreams[i].queries);
      add_t (&ups, "errors", upstreams[i].errors);
      add_t (&ups, "connects", upstreams[i].connects);
      g_variant_builder_close (&ups);
    }
  g_variant_builder_add (&b, "{sv}", "upstreams", g_variant_builder_end (&ups));

  /* Extras: useful to operators, not part of the contract's minimum. */
  add_t (&b, "queries_udp", s->queries_udp);
  add_t (&b, "queries_tcp", s->queries_tcp);
  add_t (&b, "stale_answers", s->stale_answers);
  add_t (&b, "nxdomain_local", s->nxdomain_local);
  add_t (&b, "truncated", s->truncated);
  add_t (&b, "tcp_connections", s->tcp_connections);
  add_t (&b, "tcp_rejected", s->tcp_rejected);
  add_t (&b, "tcp_timeouts", s->tcp_timeouts);
  add_t (&b, "local_forwarded", s->local_forwarded);

  return g_variant_builder_end (&b);
}
