/* The relay core: answers each query locally, from the cache, or through a DoH upstream. */
#define G_LOG_DOMAIN "ddr-relay"

#include "config.h"

#include <string.h>

#include "ddr-relay-private.h"
#include "ddr-dns-edit.h"

/* A query waiting for its upstream answer. */
typedef struct {
  DdrRelay        *relay;
  DdrUpstreamPool *pool;
  DdrOrigin        origin;
  DdrDnsInfo       qinfo;
  gint64           start_us;
  /* The client's header and question as sent (its 0x20 case), for the answer. */
  guint8           head[DDR_DNS_HEADER_LEN + DDR_DNS_MAX_NAME + 4];
} DdrQuery;


/* Firefox's canary domain (the exact name): NXDOMAIN tells browsers not to
 * switch to their own DoH, which would bypass the DNS firewall. */
static const guint8 canary_use_application_dns[] =
  "\x13use-application-dns\x03net";

#define MAX_FREE_QUERIES 1024


void
ddr_relay_config_clear (DdrRelayConfig *config)
{
  g_clear_pointer (&config->upstream.urls, g_strfreev);
  g_clear_pointer (&config->upstream.bootstrap, g_strfreev);
  g_clear_pointer (&config->upstream.ca_file, g_free);
  g_clear_pointer (&config->upstream.state_dir, g_free);
  g_clear_pointer (&config->listen, g_strfreev);
  g_clear_pointer (&config->acl, g_strfreev);
  g_clear_pointer (&config->check_domain, g_free);
}

static char *
upstream_signature (const DdrUpstreamConfig *u)
{
  g_autofree char *urls = g_strjoinv (" ", u->urls);
  g_autofree char *boot = u->bootstrap ? g_strjoinv (" ", u->bootstrap) : g_strdup ("");

  return g_strdup_printf ("%s|%s|%s|%u|%d|%s", urls, boot,
                          u->ca_file ? u->ca_file : "", u->timeout_ms, u->method,
                          u->state_dir ? u->state_dir : "");
}


static gboolean
free_retired_pools (gpointer user_data)
{
  DdrRelay *relay = user_data;

  for (guint i = relay->retired_pools->len; i > 0; i--)
    {
      DdrUpstreamPool *pool = g_ptr_array_index (relay->retired_pools, i - 1);
      if (ddr_upstream_pool_inflight (pool) == 0)
        g_ptr_array_remove_index_fast (relay->retired_pools, i - 1);
    }
  relay->retire_idle_id = 0;
  return G_SOURCE_REMOVE;
}

void
ddr_relay_schedule_retired_check (DdrRelay *relay)
{
  /* retired_pools is NULL while the relay is being freed. */
  if (relay->retired_pools && relay->retired_pools->len > 0 && relay->retire_idle_id == 0)
    relay->retire_idle_id = g_idle_add (free_retired_pools, relay);
}

/* --action=check and the roaming service probe ask for the check-domain to prove
 * the service answers now: never from the cache, fresh or stale. */
static void
set_check_domain (DdrRelay *relay, const char *check_domain)
{
  guint8 wire[DDR_DNS_MAX_NAME];
  gsize len = 0;

  if (!check_domain || !ddr_dns_name_from_string (check_domain, wire, &len))
    len = 0;
  ddr_dns_cache_set_uncached (relay->cache, wire, len);
}

gboolean
ddr_relay_reconfigure (DdrRelay *relay, const DdrRelayConfig *config, GError **error)
{
  g_autoptr(DdrAcl) acl = NULL;
  g_autoptr(DdrUpstreamPool) pool = NULL;
  g_autofree char *signature = upstream_signature (&config->upstream);
  g_autoptr(GPtrArray) listens = NULL;
  DdrTcpLimits limits = { config->tcp_idle_timeout_ms, config->tcp_max_clients };

  acl = ddr_acl_new_from_strv ((const char * const *) config->acl, error);
  if (!acl)
    return FALSE;

  if (!relay->pool || g_strcmp0 (signature, relay->pool_signature) != 0)
    {
      pool = ddr_upstream_pool_new (&config->upstream, error);
      if (!pool)
        return FALSE;
    }

  relay->tcp_limits = limits;
  listens = ddr_listen_set_open (relay, relay->listens, config->listen, &limits, error);
  if (!listens)
    return FALSE;

  /* Everything is in place: commit. Old listeners not reused close here. */
  if (relay->listens)
    g_ptr_array_unref (relay->listens);
  relay->listens = g_steal_pointer (&listens);
  ddr_listen_set_apply_limits (relay->listens, &limits);

  g_clear_pointer (&relay->acl, ddr_acl_free);
  relay->acl = g_steal_pointer (&acl);

  if (pool)
    {
      DdrUpstreamPool *retired = relay->pool;

      if (retired)
        g_ptr_array_add (relay->retired_pools, retired);
      relay->pool = g_steal_pointer (&pool);
      g_free (relay->pool_signature);
      relay->pool_signature = g_steal_pointer (&signature);
      ddr_relay_probe_pool_changed (relay->probe, retired);
      ddr_relay_schedule_retired_check (relay);
    }

  ddr_dns_cache_set_limits (relay->cache, config->cache_size,
                            config->cache_min_ttl, config->cache_max_ttl);
  set_check_domain (relay, config->check_domain);
  ddr_dns_cache_flush (relay->cache);
  relay->max_inflight = MAX (config->max_inflight, 1);
  relay->query_log = config->query_log;
  return TRUE;
}

DdrRelay *
ddr_relay_new (const DdrRelayConfig *config, GError **error)
{
  g_autoptr(DdrRelay) relay = g_new0 (DdrRelay, 1);

  relay->cache = ddr_dns_cache_new (config->cache_size, config->cache_min_ttl,
                                    config->cache_max_ttl);
  relay->retired_pools = g_ptr_array_new_with_free_func ((GDestroyNotify) ddr_upstream_pool_free);
  relay->free_queries = g_ptr_array_new_with_free_func (g_free);
  ddr_stats_reset (&relay->stats);
  relay->local = ddr_relay_local_new (relay);
  relay->probe = ddr_relay_probe_new (relay);
  if (!ddr_relay_reconfigure (relay, config, error))
    return NULL;
  return g_steal_pointer (&relay);
}

void
ddr_relay_free (DdrRelay *relay)
{
  if (!relay)
    return;
  /* Listeners first: no new queries. Then the pools complete what is pending
   * (with CANCELLED), which drops those answers. */
  g_clear_pointer (&relay->listens, g_ptr_array_unref);
  g_clear_pointer (&relay->local, ddr_relay_local_free);
  g_clear_pointer (&relay->pool, ddr_upstream_pool_free);
  g_clear_pointer (&relay->retired_pools, g_ptr_array_unref);
  g_clear_pointer (&relay->probe, ddr_relay_probe_free);
  g_clear_handle_id (&relay->retire_idle_id, g_source_remove);
  g_clear_pointer (&relay->cache, ddr_dns_cache_free);
  g_clear_pointer (&relay->acl, ddr_acl_free);
  g_clear_pointer (&relay->free_queries, g_ptr_array_unref);
  g_free (relay->pool_signature);
  g_free (relay);
}

/* ---- answering ---- */

/* Turn an upstream or cached response into the client's answer, in place, and send it. */
void
ddr_relay_send_answer (DdrRelay *relay, DdrOrigin *origin, const guint8 *query,
                       const DdrDnsInfo *qinfo, guint8 *msg, gsize len)
{
  gsize max = ddr_origin_max_answer (origin, qinfo);
  gsize name_end = DDR_DNS_HEADER_LEN + qinfo->qname_len;
  guint16 flags;

  /* Give the client its question back spelt as it sent it (the answer may have
   * been cached for another spelling): resolvers using 0x20 check the case. The
   * names are equal but for case, so the lengths match. */
  if (len >= name_end && ddr_dns_get16 (msg + 4) == 1 && msg[name_end - 1] == 0)
    memcpy (msg + DDR_DNS_HEADER_LEN, query + DDR_DNS_HEADER_LEN, qinfo->qname_len);

  len = ddr_dns_strip_option (msg, len, DDR_DNS_OPT_PADDING);
  if (!qinfo->has_opt)
    len = ddr_dns_strip_opt (msg, len);
  ddr_dns_set_id (msg, qinfo->id);
  /* The cached answer may have been fetched for a client with another RD bit. */
  flags = ddr_dns_get16 (msg + 2);
  flags = (flags & ~DDR_DNS_FLAG_RD) | (qinfo->flags & DDR_DNS_FLAG_RD);
  ddr_dns_put16 (msg + 2, flags);

  if (len > max)
    {
      len = ddr_dns_truncate (msg, len, max);
      relay->stats.truncated++;
      if (len == 0)
        {
          /* Not even the question fits: a bare SERVFAIL is all that is left. */
          len = ddr_dns_synthesize (query, qinfo->question_end, qinfo, DDR_DNS_RCODE_SERVFAIL,
                                    -1, NULL, msg, max);
          relay->stats.servfail++;
        }
    }
  ddr_origin_reply (origin, len ? msg : NULL, len);
}

void
ddr_relay_send_error (DdrRelay *relay, DdrOrigin *origin, const guint8 *query, gsize query_len,
                      const DdrDnsInfo *qinfo, DdrDnsRcode rcode, int ede, const char *text)
{
  gsize len = ddr_dns_synthesize (query, query_len, qinfo, rcode, ede, text,
                                  relay->scratch, sizeof relay->scratch);

  if (rcode == DDR_DNS_RCODE_SERVFAIL)
    relay->stats.servfail++;
  ddr_origin_reply (origin, len ? relay->scratch : NULL, len);
}

void
ddr_relay_log_query (DdrRelay *relay, const DdrOrigin *origin, const DdrDnsInfo *qinfo,
                     const char *how)
{
  g_autofree char *name = NULL;
  g_autoptr(GSocketAddress) peer = NULL;
  g_autofree char *peer_text = NULL;

  if (!relay->query_log)
    return;
  name = ddr_dns_name_to_string (qinfo->qname, qinfo->qname_len);
  peer = g_socket_address_new_from_native ((gpointer) &origin->peer, origin->peer_len);
  if (peer && G_IS_INET_SOCKET_ADDRESS (peer))
    peer_text = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer)));
  g_message ("query %s type %u from %s over %s: %s", name, qinfo->qtype,
             peer_text ? peer_text : "?", origin->tcp ? "TCP" : "UDP", how);
}

const char *
ddr_relay_failure_text (DdrDohStatus status)
{
  switch (status)
    {
    case DDR_DOH_TIMEOUT:
      return "no DoH upstream answered in time";
    case DDR_DOH_TRANSPORT:
      return "DoH upstream unreachable";
    case DDR_DOH_HTTP_STATUS:
      return "DoH upstream returned an HTTP error";
    case DDR_DOH_BAD_RESPONSE:
      return "DoH upstream sent an invalid answer";
    case DDR_DOH_OK:
    case DDR_DOH_CANCELLED:
    default:
      return "relay shutting down";
    }
}

static void
query_free (DdrRelay *relay, DdrQuery *q)
{
  if (relay->free_queries && relay->free_queries->len < MAX_FREE_QUERIES)
    g_ptr_array_add (relay->free_queries, q);
  else
    g_free (q);
}

static void
on_upstream_done (DdrDohStatus status, guint8 *answer, gsize len,
                  const DdrDnsInfo *rinfo, guint32 age_s, gpointer user_data)
{
  DdrQuery *q = user_data;
  DdrRelay *relay = q->relay;

  relay->inflight--;
  if (q->pool != relay->pool)
    ddr_relay_schedule_retired_check (relay);

  if (status == DDR_DOH_CANCELLED)
    {
      ddr_origin_reply (&q->origin, NULL, 0);
    }
  else if (status != DDR_DOH_OK)
    {
      gsize stale_len = 0;

      relay->stats.upstream_errors++;
      if (ddr_upstream_pool_all_failing (relay->pool) &&
          ddr_dns_cache_lookup (relay->cache, &q->qinfo, g_get_monotonic_time () / G_USEC_PER_SEC,
                                TRUE, relay->scratch, sizeof relay->scratch, &stale_len) != DDR_DNS_CACHE_MISS)
        {
          relay->stats.stale_answers++;
          ddr_relay_send_answer (relay, &q->origin, q->head, &q->qinfo, relay->scratch, stale_len);
        }
      else
        {
          int ede = status == DDR_DOH_TIMEOUT ? DDR_DNS_EDE_NO_REACHABLE_AUTHORITY
                                              : DDR_DNS_EDE_NETWORK_ERROR;
          ddr_relay_send_error (relay, &q->origin, q->head, q->qinfo.question_end, &q->qinfo,
                                DDR_DNS_RCODE_SERVFAIL, ede, ddr_relay_failure_text (status));
        }
    }
  else
    {
      DdrDnsInfo aged;

      if (age_s > 0)
        {
          /* RFC 8484 §5.1: an HTTP cache held it for age_s already. */
          ddr_dns_age_ttls (answer, len, age_s);
          if (ddr_dns_parse_response (answer, len, &aged) == DDR_DNS_OK)
            rinfo = &aged;
        }
      ddr_dns_cache_insert (relay->cache, &q->qinfo, answer, len, rinfo,
                            g_get_monotonic_time () / G_USEC_PER_SEC);
      ddr_stats_record_latency (&relay->stats, (g_get_monotonic_time () - q->start_us));
      ddr_relay_send_answer (relay, &q->origin, q->head, &q->qinfo, answer, len);
    }
  query_free (relay, q);
}

static gboolean
is_local_nxdomain (const DdrDnsInfo *qinfo)
{
  return qinfo->qname_len == sizeof canary_use_application_dns &&
         memcmp (qinfo->qname, canary_use_application_dns, sizeof canary_use_application_dns) == 0;
}

static void
forward_query (DdrRelay *relay, DdrOrigin *origin, const DdrDnsInfo *qinfo,
               const guint8 *msg, gsize len)
{
  DdrQuery *q;
  gsize up_len;

  memcpy (relay->scratch, msg, len);
  ddr_dns_set_id (relay->scratch, 0);
  up_len = ddr_dns_pad_query (relay->scratch, len, sizeof relay->scratch, DDR_DNS_PADDING_BLOCK);
  if (up_len == 0)
    up_len = len;   /* no room to pad a near-64 KiB query: send it as it is */

  q = relay->free_queries->len > 0
    ? g_ptr_array_steal_index_fast (relay->free_queries, relay->free_queries->len - 1)
    : g_new (DdrQuery, 1);
  q->relay = relay;
  q->pool = relay->pool;
  q->origin = *origin;          /* the reference moves into the query */
  q->qinfo = *qinfo;
  q->start_us = g_get_monotonic_time ();
  memcpy (q->head, msg, qinfo->question_end);
  relay->inflight++;
  ddr_upstream_pool_send (relay->pool, relay->scratch, up_len, qinfo, on_upstream_done, q);
}

void
ddr_relay_handle_query (DdrRelay *relay, const DdrOrigin *origin_in,
                        guint8 *msg, gsize len)
{
  DdrOrigin origin = *origin_in;
  DdrDnsInfo qinfo;
  DdrDnsStatus status;
  gsize cached_len = 0;

  relay->stats.queries++;
  if (origin.tcp)
    relay->stats.queries_tcp++;
  else
    relay->stats.queries_udp++;

  status = ddr_dns_parse_query (msg, len, &qinfo);
  if (status != DDR_DNS_OK)
    {
      relay->stats.malformed++;
      g_debug ("malformed query (%s)", ddr_dns_status_to_string (status));
      /* FORMERR only for something that at least claims to be a query. */
      if (len >= DDR_DNS_HEADER_LEN && !(ddr_dns_get16 (msg + 2) & DDR_DNS_FLAG_QR) &&
          ddr_acl_allows (relay->acl, &origin.peer.sa, origin.peer_len))
        {
          gsize n = ddr_dns_formerr_header (msg, len, relay->scratch);
          ddr_origin_reply (&origin, relay->scratch, n);
        }
      else
        ddr_origin_reply (&origin, NULL, 0);
      return;
    }

  if (!ddr_acl_allows (relay->acl, &origin.peer.sa, origin.peer_len))
    {
      relay->stats.refused++;
      ddr_relay_send_error (relay, &origin, msg, len, &qinfo, DDR_DNS_RCODE_REFUSED,
                            DDR_DNS_EDE_PROHIBITED, NULL);
      return;
    }

  if (qinfo.has_opt && qinfo.edns_version > 0)
    {
      /* RFC 6891 §6.1.3: we speak EDNS version 0 only. */
      ddr_relay_send_error (relay, &origin, msg, len, &qinfo, DDR_DNS_RCODE_BADVERS, -1, NULL);
      return;
    }

  if (DDR_DNS_OPCODE (qinfo.flags) != 0)
    {
      ddr_relay_send_error (relay, &origin, msg, len, &qinfo, DDR_DNS_RCODE_NOTIMP, -1, NULL);
      return;
    }

  if (is_local_nxdomain (&qinfo))
    {
      relay->stats.nxdomain_local++;
      ddr_relay_log_query (relay, &origin, &qinfo, "answered NXDOMAIN locally");
      ddr_relay_send_error (relay, &origin, msg, len, &qinfo, DDR_DNS_RCODE_NXDOMAIN, -1, NULL);
      return;
    }

  /* Split DNS and the steering canary: never cached, never sent to the service. */
  if (ddr_relay_local_handle (relay->local, &origin, &qinfo, msg, len))
    return;

  if (ddr_dns_cache_lookup (relay->cache, &qinfo, g_get_monotonic_time () / G_USEC_PER_SEC, FALSE,
                            relay->scratch, sizeof relay->scratch, &cached_len) == DDR_DNS_CACHE_HIT)
    {
      relay->stats.cache_hits++;
      ddr_relay_log_query (relay, &origin, &qinfo, "cache");
      ddr_relay_send_answer (relay, &origin, msg, &qinfo, relay->scratch, cached_len);
      return;
    }

  if (relay->inflight >= relay->max_inflight)
    {
      relay->stats.inflight_overflow++;
      ddr_relay_send_error (relay, &origin, msg, len, &qinfo, DDR_DNS_RCODE_SERVFAIL,
                            DDR_DNS_EDE_OTHER, "relay overloaded: too many queries in flight");
      return;
    }

  ddr_relay_log_query (relay, &origin, &qinfo, "upstream");
  forward_query (relay, &origin, &qinfo, msg, len);
}


/* ---- introspection ---- */

void
ddr_relay_flush_cache (DdrRelay *relay)
{
  ddr_dns_cache_flush (relay->cache);
}

void
ddr_relay_network_changed (DdrRelay *relay)
{
  relay->stats.network_events++;
  ddr_dns_cache_flush (relay->cache);
  ddr_upstream_pool_drop_connections (relay->pool);
}

void
ddr_relay_network_renewed (DdrRelay *relay)
{
  relay->stats.network_events++;
}

const DdrStats *
ddr_relay_get_stats (DdrRelay *relay)
{
  return &relay->stats;
}

gboolean
ddr_relay_acl_allows (DdrRelay *relay, const struct sockaddr *sa, socklen_t salen)
{
  return ddr_acl_allows (relay->acl, sa, salen);
}

DdrStats *
ddr_relay_stats_mut (DdrRelay *relay)
{
  return &relay->stats;
}

guint
ddr_relay_get_inflight (DdrRelay *relay)
{
  return relay->inflight;
}

DdrUpstreamInfo *
ddr_relay_get_upstreams (DdrRelay *relay, guint *n_upstreams)
{
  return ddr_upstream_pool_get_info (relay->pool, n_upstreams);
}

void
ddr_relay_log_statistics (DdrRelay *relay)
{
  const DdrStats *s = &relay->stats;
  g_autofree DdrUpstreamInfo *ups = NULL;
  guint n = 0;

  g_message ("statistics: queries=%" G_GUINT64_FORMAT " udp=%" G_GUINT64_FORMAT
             " tcp=%" G_GUINT64_FORMAT " cache_hits=%" G_GUINT64_FORMAT
             " cache_entries=%u stale_answers=%" G_GUINT64_FORMAT
             " servfail=%" G_GUINT64_FORMAT " refused=%" G_GUINT64_FORMAT
             " malformed=%" G_GUINT64_FORMAT " local_nxdomain=%" G_GUINT64_FORMAT
             " truncated=%" G_GUINT64_FORMAT " inflight=%u inflight_overflow=%" G_GUINT64_FORMAT
             " upstream_errors=%" G_GUINT64_FORMAT " local_forwarded=%" G_GUINT64_FORMAT
             " tcp_connections=%" G_GUINT64_FORMAT
             " tcp_rejected=%" G_GUINT64_FORMAT " tcp_timeouts=%" G_GUINT64_FORMAT
             " latency_p50_us=%" G_GUINT64_FORMAT " latency_p99_us=%" G_GUINT64_FORMAT,
             s->queries, s->queries_udp, s->queries_tcp, s->cache_hits,
             ddr_dns_cache_size (relay->cache), s->stale_answers, s->servfail, s->refused,
             s->malformed, s->nxdomain_local, s->truncated, relay->inflight,
             s->inflight_overflow, s->upstream_errors, s->local_forwarded, s->tcp_connections, s->tcp_rejected,
             s->tcp_timeouts, ddr_stats_latency_quantile (s, 0.5),
             ddr_stats_latency_quantile (s, 0.99));

  ups = ddr_upstream_pool_get_info (relay->pool, &n);
  for (guint i = 0; i < n; i++)
    g_message ("statistics: upstream[%u] url=%s healthy=%s queries=%" G_GUINT64_FORMAT
               " errors=%" G_GUINT64_FORMAT " connects=%" G_GUINT64_FORMAT,
               i, ups[i].url, ups[i].healthy ? "yes" : "no", ups[i].queries,
               ups[i].errors, ups[i].connects);
}
