/* Answers that never reach the DNS service: split DNS to a network's own servers, and the steering canary. */
#define G_LOG_DOMAIN "ddr-relay"

#include "config.h"

#include <string.h>

#include "ddr-relay-private.h"
#include "ddr-dns-udp-client.h"
#include "ddr-dns-route.h"
#include "ddr-dns-query.h"
#include "ddr-dns-edit.h"

/* A forwarded query's time to answer, per server (a resolver retries after ~5 s). */
#define LOCAL_TIMEOUT_MS 2000
/* How long a name the network's DNS did not answer is answered SERVFAIL at once:
 * glibc asks AAAA, then A, and retries each SERVFAIL - without this memory every
 * one of them waited LOCAL_TIMEOUT_MS again (8 s for `getent hosts gw`). Short,
 * so that the user's own retry a little later asks the network again. */
#define LOCAL_UNANSWERED_MS 5000
#define LOCAL_UNANSWERED_MAX 256

struct _DdrRelayLocal {
  DdrRelay      *relay;
  DdrDnsRoutes  *routes;          /* NULL when there are none */
  GPtrArray     *servers;         /* LocalTarget per route value */
  GCancellable  *cancellable;     /* every forward in flight */
  GQueue         pending;         /* LocalQuery */
  GHashTable    *unanswered;      /* GBytes qname (wire, lower case) -> gint64 expiry (monotonic us) */
  guint          n_logged;        /* routes in the last "split DNS" info line */

  guint8         canary[DDR_DNS_MAX_NAME];
  gsize          canary_len;      /* 0 = no canary expected */
  DdrCanarySeen  canary_seen;
  gpointer       canary_data;
  guint          canary_idle;     /* the seen callback, due from the main loop */
  DdrCanarySeen  due_seen;
  gpointer       due_data;
};

typedef struct {
  DdrRelayLocal *local;           /* NULL once the relay dropped it */
  GList          link;
  DdrOrigin      origin;
  DdrDnsInfo     qinfo;
  guint8         head[DDR_DNS_HEADER_LEN + DDR_DNS_MAX_NAME + 4];
} LocalQuery;

/* Where a route's names go. */
typedef struct {
  char   **servers;
  gboolean untrusted;             /* an untrusted network: no wpad/isatap names */
} LocalTarget;

static void
local_target_free (LocalTarget *t)
{
  g_strfreev (t->servers);
  g_free (t);
}

static const guint8 canary_address[4] = { 192, 0, 0, 8 };   /* RFC 7600, our ddr0 address */

DdrRelayLocal *
ddr_relay_local_new (DdrRelay *relay)
{
  DdrRelayLocal *local = g_new0 (DdrRelayLocal, 1);

  local->relay = relay;
  local->cancellable = g_cancellable_new ();
  local->unanswered = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                             (GDestroyNotify) g_bytes_unref, g_free);
  g_queue_init (&local->pending);
  return local;
}

void
ddr_relay_local_free (DdrRelayLocal *local)
{
  GList *l;

  if (!local)
    return;
  /* As the pools do: what is pending is dropped now; each forward's callback
   * comes later (CANCELLED) and only frees its record. */
  while ((l = g_queue_pop_head_link (&local->pending)))
    {
      LocalQuery *lq = l->data;

      ddr_origin_reply (&lq->origin, NULL, 0);
      lq->local = NULL;
    }
  g_cancellable_cancel (local->cancellable);
  g_clear_object (&local->cancellable);
  g_clear_handle_id (&local->canary_idle, g_source_remove);
  g_clear_pointer (&local->routes, ddr_dns_routes_free);
  g_clear_pointer (&local->servers, g_ptr_array_unref);
  g_clear_pointer (&local->unanswered, g_hash_table_unref);
  g_free (local);
}

/* ---- split DNS ---- */

void
ddr_relay_set_local_routes (DdrRelay *relay, const DdrLocalRoute *routes, guint n_routes)
{
  DdrRelayLocal *local = relay->local;
  g_autoptr(DdrDnsRoutes) table = ddr_dns_routes_new ();
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func ((GDestroyNotify) local_target_free);
  guint n;

  for (guint i = 0; i < n_routes; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!routes[i].servers || !routes[i].servers[0])
        {
          g_warning ("local route for \"%s\" has no DNS server; ignored",
                     routes[i].domain ? routes[i].domain : "(null)");
          continue;
        }
      LocalTarget *t;

      if (!(routes[i].exact ? ddr_dns_routes_add_exact (table, routes[i].domain, servers->len, &error)
                            : ddr_dns_routes_add (table, routes[i].domain, servers->len, &error)))
        {
          g_warning ("%s; ignored", error->message);
          continue;
        }
      t = g_new0 (LocalTarget, 1);
      t->servers = g_strdupv ((char **) routes[i].servers);
      t->untrusted = routes[i].untrusted;
      g_ptr_array_add (servers, t);
    }
  g_clear_pointer (&local->routes, ddr_dns_routes_free);
  g_clear_pointer (&local->servers, g_ptr_array_unref);
  g_hash_table_remove_all (local->unanswered);   /* new routes, new servers: ask them */
  if (servers->len > 0)
    {
      local->routes = g_steal_pointer (&table);
      local->servers = g_steal_pointer (&servers);
    }
  /* NetworkManager announces many changes that leave the routes as they were. */
  n = local->servers ? local->servers->len : 0;
  if (n != local->n_logged)
    g_info ("split DNS: %u local route(s)", n);
  else
    g_debug ("split DNS: %u local route(s)", n);
  local->n_logged = n;
}

static const LocalTarget *
target_for (DdrRelayLocal *local, const guint8 *name, gsize name_len)
{
  gint i;

  if (!local->routes)
    return NULL;
  i = ddr_dns_routes_lookup (local->routes, name, name_len);
  return i < 0 ? NULL : g_ptr_array_index (local->servers, i);
}

static const char *const *
servers_for (DdrRelayLocal *local, const guint8 *name, gsize name_len)
{
  const LocalTarget *t = target_for (local, name, name_len);

  return t ? (const char *const *) t->servers : NULL;
}

const char *const *
ddr_relay_route_for (DdrRelay *relay, const char *name)
{
  guint8 wire[DDR_DNS_MAX_NAME];
  gsize len = 0;

  if (!name || !ddr_dns_name_from_string (name, wire, &len))
    return NULL;
  for (gsize i = 0; i < len; i++)
    wire[i] = (guint8) g_ascii_tolower (wire[i]);
  return servers_for (relay->local, wire, len);
}

static void
local_query_free (DdrRelay *relay, LocalQuery *lq)
{
  if (lq->local)
    {
      g_queue_unlink (&lq->local->pending, &lq->link);
      relay->inflight--;
    }
  g_free (lq);
}

/* ---- names the network's DNS did not answer a moment ago ---- */

static void
unanswered_note (DdrRelayLocal *local, const DdrDnsInfo *qinfo, gboolean answered)
{
  g_autoptr(GBytes) key = g_bytes_new (qinfo->qname, qinfo->qname_len);
  gint64 *until;

  if (answered)
    {
      g_hash_table_remove (local->unanswered, key);
      return;
    }
  if (g_hash_table_size (local->unanswered) >= LOCAL_UNANSWERED_MAX)
    g_hash_table_remove_all (local->unanswered);   /* bounded; a miss only costs a wait */
  until = g_new (gint64, 1);
  *until = g_get_monotonic_time () + LOCAL_UNANSWERED_MS * G_TIME_SPAN_MILLISECOND;
  g_hash_table_replace (local->unanswered, g_steal_pointer (&key), until);
}

static gboolean
unanswered_recently (DdrRelayLocal *local, const DdrDnsInfo *qinfo)
{
  g_autoptr(GBytes) key = NULL;
  gint64 *until;

  if (g_hash_table_size (local->unanswered) == 0)
    return FALSE;
  key = g_bytes_new_static (qinfo->qname, qinfo->qname_len);
  until = g_hash_table_lookup (local->unanswered, key);
  if (!until)
    return FALSE;
  if (*until > g_get_monotonic_time ())
    return TRUE;
  g_hash_table_remove (local->unanswered, key);
  return FALSE;
}

static void
on_local_answer (GObject *source, GAsyncResult *res, gpointer user_data)
{
  LocalQuery *lq = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) answer = ddr_dns_udp_query_finish (res, &error);
  DdrRelay *relay;
  gsize len = 0;
  const guint8 *data;

  (void) source;
  if (!lq->local)
    {
      g_free (lq);   /* the relay is gone; the client was already dropped */
      return;
    }
  relay = lq->local->relay;
  if (!answer)
    {
      int ede = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
                  ? DDR_DNS_EDE_NO_REACHABLE_AUTHORITY : DDR_DNS_EDE_NETWORK_ERROR;

      g_debug ("local DNS forward failed: %s", error->message);
      if (ede == DDR_DNS_EDE_NO_REACHABLE_AUTHORITY)
        unanswered_note (lq->local, &lq->qinfo, FALSE);
      ddr_relay_send_error (relay, &lq->origin, lq->head, lq->qinfo.question_end, &lq->qinfo,
                            DDR_DNS_RCODE_SERVFAIL, ede, "the network's DNS server did not answer");
    }
  else
    {
      unanswered_note (lq->local, &lq->qinfo, TRUE);
      /* send_answer edits in place: the relay's scratch buffer is free here. */
      data = g_bytes_get_data (answer, &len);
      memcpy (relay->scratch, data, len);
      ddr_relay_send_answer (relay, &lq->origin, lq->head, &lq->qinfo, relay->scratch, len);
    }
  local_query_free (relay, lq);
}

static void
forward_local (DdrRelayLocal *local, DdrOrigin *origin, const DdrDnsInfo *qinfo,
               const guint8 *msg, gsize len, const char *const *servers)
{
  DdrRelay *relay = local->relay;
  LocalQuery *lq;
  g_autoptr(GBytes) query = NULL;

  if (relay->inflight >= relay->max_inflight)
    {
      relay->stats.inflight_overflow++;
      ddr_relay_send_error (relay, origin, msg, len, qinfo, DDR_DNS_RCODE_SERVFAIL,
                            DDR_DNS_EDE_OTHER, "relay overloaded: too many queries in flight");
      return;
    }
  relay->stats.local_forwarded++;
  ddr_relay_log_query (relay, origin, qinfo, "local route");

  lq = g_new0 (LocalQuery, 1);
  lq->local = local;
  lq->link.data = lq;
  lq->origin = *origin;   /* the reference moves into the record */
  lq->qinfo = *qinfo;
  memcpy (lq->head, msg, qinfo->question_end);
  g_queue_push_tail_link (&local->pending, &lq->link);
  relay->inflight++;

  /* The client's query as sent (its EDNS, its ID: the client restores it). */
  query = g_bytes_new (msg, len);
  ddr_dns_udp_query_async (servers, query, LOCAL_TIMEOUT_MS, local->cancellable,
                           on_local_answer, lq);
}

/* ---- the steering canary ---- */

static gboolean
canary_notify (gpointer user_data)
{
  DdrRelayLocal *local = user_data;
  DdrCanarySeen seen = local->due_seen;

  local->canary_idle = 0;
  local->due_seen = NULL;
  if (seen)
    seen (local->due_data);
  return G_SOURCE_REMOVE;
}

void
ddr_relay_expect_canary (DdrRelay *relay, const char *name, DdrCanarySeen seen, gpointer user_data)
{
  DdrRelayLocal *local = relay->local;

  /* A new canary (or none) makes an earlier one's pending callback moot. */
  g_clear_handle_id (&local->canary_idle, g_source_remove);
  local->due_seen = NULL;
  local->canary_len = 0;
  local->canary_seen = NULL;
  if (!name)
    return;
  if (!ddr_dns_name_from_string (name, local->canary, &local->canary_len) || local->canary_len <= 1)
    {
      g_warning ("invalid canary name \"%s\"; not expecting one", name);
      local->canary_len = 0;
      return;
    }
  for (gsize i = 0; i < local->canary_len; i++)
    local->canary[i] = (guint8) g_ascii_tolower (local->canary[i]);
  local->canary_seen = seen;
  local->canary_data = user_data;
}

static void
answer_canary (DdrRelayLocal *local, DdrOrigin *origin, const DdrDnsInfo *qinfo,
               const guint8 *msg, gsize len)
{
  DdrRelay *relay = local->relay;
  gsize out;

  out = ddr_dns_synthesize (msg, len, qinfo, DDR_DNS_RCODE_NOERROR, -1, NULL,
                            relay->scratch, sizeof relay->scratch);
  if (out && qinfo->qtype == DDR_DNS_TYPE_A && qinfo->qclass == DDR_DNS_CLASS_IN)
    out = ddr_dns_add_answer (relay->scratch, out, sizeof relay->scratch, DDR_DNS_TYPE_A, 0,
                              canary_address, sizeof canary_address);
  ddr_relay_log_query (relay, origin, qinfo, "steering canary");
  if (out)
    ddr_relay_send_answer (relay, origin, msg, qinfo, relay->scratch, out);
  else
    ddr_origin_reply (origin, NULL, 0);

  /* Once, then forgotten; the callback runs from the main loop, never from
   * inside the listener that is handing us this query. */
  local->due_seen = local->canary_seen;
  local->due_data = local->canary_data;
  local->canary_len = 0;
  local->canary_seen = NULL;
  if (!local->canary_idle)
    local->canary_idle = g_idle_add (canary_notify, local);
}

gboolean
ddr_relay_local_handle (DdrRelayLocal *local, DdrOrigin *origin, const DdrDnsInfo *qinfo,
                        guint8 *msg, gsize len)
{
  const LocalTarget *target;

  /* qname is lower case already, so both checks are plain compares. */
  if (local->canary_len == qinfo->qname_len &&
      memcmp (local->canary, qinfo->qname, local->canary_len) == 0)
    {
      answer_canary (local, origin, qinfo, msg, len);
      return TRUE;
    }
  target = target_for (local, qinfo->qname, qinfo->qname_len);
  if (!target)
    return FALSE;
  /* A hotspot answering wpad/isatap would become the client's web proxy or IPv6
   * router. Answered here rather than by the service: the names are local by
   * nature (the service has nothing to say about "wpad.lan"), the answer is
   * immediate whether the service answers or not, and no local name leaves
   * the machine. */
  if (target->untrusted && ddr_dns_name_is_proxy_discovery (qinfo->qname, qinfo->qname_len))
    {
      ddr_relay_log_query (local->relay, origin, qinfo, "proxy discovery, not forwarded");
      ddr_relay_send_error (local->relay, origin, msg, len, qinfo, DDR_DNS_RCODE_NXDOMAIN,
                            DDR_DNS_EDE_PROHIBITED,
                            "proxy discovery names are never sent to an untrusted network");
      return TRUE;
    }
  if (unanswered_recently (local, qinfo))
    {
      ddr_relay_log_query (local->relay, origin, qinfo, "local route, unanswered a moment ago");
      ddr_relay_send_error (local->relay, origin, msg, len, qinfo, DDR_DNS_RCODE_SERVFAIL,
                            DDR_DNS_EDE_NO_REACHABLE_AUTHORITY,
                            "the network's DNS server did not answer this name a moment ago");
      return TRUE;
    }
  forward_local (local, origin, qinfo, msg, len, (const char *const *) target->servers);
  return TRUE;
}
