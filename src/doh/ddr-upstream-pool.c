/* Upstream pool: priority order, health from real traffic, back-off, failover, one deadline timer. */
#define G_LOG_DOMAIN "ddr-upstream"

#include "config.h"

#include "ddr-upstream-pool-private.h"
#include "ddr-deadline-source.h"

#include <string.h>

typedef struct _Query Query;

typedef struct {
  Query          *q;
  Upstream       *up;             /* NULL = slot free */
  DdrDohTransfer *t;
  gboolean        probe;
  gboolean        retried;        /* already re-sent after a dead reused connection */
  gint64          started;
} Attempt;

struct _Query {
  DdrUpstreamPool *pool;
  guint8          *msg;
  gsize            len;
  DdrDnsInfo       qinfo;
  DdrUpstreamDone  done;
  gpointer         user_data;
  gint64           deadline;
  gint64           hedge_at;
  GList            link;          /* pool->pending, arrival = deadline order */
  GList            hedge_link;    /* pool->unhedged while a hedge may still come */
  GList            fail_link;     /* pool->failed_now: completed from the timer */
  guint32          tried;         /* bit per upstream index */
  Attempt          att[2];        /* the main chain and at most one hedge */
  DdrDohStatus     last_status;
};

const char *
ddr_doh_status_to_string (DdrDohStatus status)
{
  switch (status)
    {
    case DDR_DOH_OK:           return "ok";
    case DDR_DOH_TIMEOUT:      return "timeout";
    case DDR_DOH_TRANSPORT:    return "transport";
    case DDR_DOH_HTTP_STATUS:  return "http-status";
    case DDR_DOH_BAD_RESPONSE: return "bad-response";
    case DDR_DOH_CANCELLED:    return "cancelled";
    default:                   return "unknown";
    }
}

/* ---- queries ---- */

static void rearm_timer (DdrUpstreamPool *pool);
static void on_transfer_done (const DdrDohResult *result, gpointer user_data);

static gboolean
start_attempt (Query *q, Attempt *a, Upstream *up, gboolean probe, gboolean retried)
{
  DdrUpstreamPool *pool = q->pool;

  a->q = q;
  a->t = ddr_doh_client_start (pool->client, up->ep, q->msg, q->len, on_transfer_done, a);
  if (!a->t)
    {
      a->up = NULL;
      return FALSE;
    }
  a->up = up;
  a->probe = probe;
  a->retried = retried;
  a->started = g_get_monotonic_time ();
  q->tried |= 1u << up->index;
  if (probe)
    up->probing = TRUE;
  if (!retried)
    up->queries++;
  return TRUE;
}

static Attempt *
free_slot (Query *q)
{
  for (guint i = 0; i < G_N_ELEMENTS (q->att); i++)
    if (!q->att[i].up)
      return &q->att[i];
  return NULL;
}

static guint
n_attempts (Query *q)
{
  guint n = 0;

  for (guint i = 0; i < G_N_ELEMENTS (q->att); i++)
    n += q->att[i].up != NULL;
  return n;
}

static void
attempt_stop (Attempt *a)
{
  if (!a->up)
    return;
  ddr_doh_client_cancel (a->q->pool->client, a->t);
  if (a->probe)
    a->up->probing = FALSE;
  a->up = NULL;
  a->t = NULL;
}

/* A stopped attempt that got nothing: an error, and failed when the upstream
 * has not answered anything since the attempt went out. */
static void
attempt_stop_unanswered (Attempt *a, gint64 now, gboolean always_fail)
{
  Upstream *up = a->up;
  gboolean probe = a->probe;

  if (!up)
    return;
  attempt_stop (a);
  if (always_fail || up->last_success < a->started)
    {
      up->errors++;
      ddr_upstream_mark_failed (up, probe, now, "no answer in time");
    }
}

static void
query_complete (Query *q, DdrDohStatus status, guint8 *answer, gsize len,
                const DdrDnsInfo *rinfo, guint32 age_s)
{
  DdrUpstreamPool *pool = q->pool;

  for (guint i = 0; i < G_N_ELEMENTS (q->att); i++)
    attempt_stop (&q->att[i]);
  g_queue_unlink (&pool->pending, &q->link);
  if (q->hedge_link.data)
    g_queue_unlink (&pool->unhedged, &q->hedge_link);
  if (q->fail_link.data)
    g_queue_unlink (&pool->failed_now, &q->fail_link);
  q->done (status, answer, len, rinfo, age_s, q->user_data);
  g_free (q->msg);
  g_free (q);
}

static gboolean
is_failover_worthy (const DdrDohResult *r, DdrDohStatus status)
{
  switch (status)
    {
    case DDR_DOH_TRANSPORT:
    case DDR_DOH_BAD_RESPONSE:
      return TRUE;
    case DDR_DOH_HTTP_STATUS:
      return r->http_status >= 500 || r->http_status == 429;
    default:
      return FALSE;
    }
}

static void
describe_failure (const DdrDohResult *r, DdrDohStatus status, char *buf, gsize size)
{
  if (status == DDR_DOH_HTTP_STATUS)
    g_snprintf (buf, size, "HTTP status %ld", r->http_status);
  else if (status == DDR_DOH_TRANSPORT && r->error && *r->error)
    g_snprintf (buf, size, "%s", r->error);
  else if (status == DDR_DOH_BAD_RESPONSE && r->status == DDR_DOH_OK)
    g_snprintf (buf, size, "the answer does not parse or does not match the question");
  else
    g_snprintf (buf, size, "%s", ddr_doh_status_to_string (status));
}

static void
on_transfer_done (const DdrDohResult *r, gpointer user_data)
{
  char why[256];
  Attempt *a = user_data;
  Query *q = a->q;
  DdrUpstreamPool *pool = q->pool;
  Upstream *up = a->up;
  gboolean probe = a->probe;
  gint64 started = a->started;
  gint64 now = g_get_monotonic_time ();
  DdrDohStatus status = r->status;
  DdrDnsInfo rinfo;

  /* the transfer is already finished and recycled by the client */
  a->t = NULL;
  a->up = NULL;
  if (probe)
    up->probing = FALSE;
  up->connects += r->connects;

  if (status == DDR_DOH_OK &&
      (ddr_dns_parse_response (r->body, r->body_len, &rinfo) != DDR_DNS_OK ||
       !ddr_dns_same_question (&q->qinfo, &rinfo)))
    {
      g_debug ("upstream %u: answer does not parse or does not match the question", up->index);
      status = DDR_DOH_BAD_RESPONSE;
    }

  if (status == DDR_DOH_OK)
    {
      ddr_upstream_mark_success (pool, up, r->primary_ip, now);
      /* a hedge won: the older attempt still out counts against its upstream */
      for (guint i = 0; i < G_N_ELEMENTS (q->att); i++)
        if (q->att[i].up && q->att[i].started < started)
          attempt_stop_unanswered (&q->att[i], now, FALSE);
      query_complete (q, DDR_DOH_OK, r->body, r->body_len, &rinfo, r->age_s);
      rearm_timer (pool);
      return;
    }

  /* An idle connection that died under us is not the upstream's fault:
   * send again at once; curl has closed it, so this goes on a new one. */
  if (status == DDR_DOH_TRANSPORT && r->reused && !a->retried && now < q->deadline)
    {
      g_debug ("upstream %u: reused connection failed (%s); retrying on a new one",
               up->index, r->error);
      if (start_attempt (q, a, up, probe, TRUE))
        return;
    }

  up->errors++;
  q->last_status = status;
  describe_failure (r, status, why, sizeof why);
  if (is_failover_worthy (r, status))
    {
      ddr_upstream_mark_failed (up, probe, now, why);
      if (n_attempts (q) > 0)
        return;   /* the hedge is still out: let it answer */
      if (now < q->deadline)
        {
          gboolean next_probe;
          Upstream *next = ddr_upstream_pick (pool, q->tried, now, &next_probe);

          if (next && start_attempt (q, a, next, next_probe, FALSE))
            {
              g_debug ("query failed over from upstream %u to %u", up->index, next->index);
              return;
            }
        }
    }
  else
    {
      ddr_upstream_warn_failure (up, why);
      if (n_attempts (q) > 0)
        return;
    }
  query_complete (q, status, NULL, 0, NULL, 0);
  rearm_timer (pool);
}

static void
rearm_timer (DdrUpstreamPool *pool)
{
  gint64 t = -1;

  if (pool->failed_now.head)
    t = 0;
  else
    {
      if (pool->pending.head)
        t = ((Query *) pool->pending.head->data)->deadline;
      if (pool->unhedged.head)
        {
          gint64 h = ((Query *) pool->unhedged.head->data)->hedge_at;
          t = t < 0 ? h : MIN (t, h);
        }
    }
  ddr_deadline_source_set (pool->timer, t);
}

static void
pool_timer_fire (gpointer user_data)
{
  DdrUpstreamPool *pool = user_data;
  gint64 now = g_get_monotonic_time ();
  GList *l;

  while ((l = pool->failed_now.head))
    {
      Query *q = l->data;

      query_complete (q, q->last_status, NULL, 0, NULL, 0);
    }

  while ((l = pool->pending.head) && ((Query *) l->data)->deadline <= now)
    {
      Query *q = l->data;

      for (guint i = 0; i < G_N_ELEMENTS (q->att); i++)
        if (q->att[i].up)
          {
            g_debug ("query timed out on upstream %u", q->att[i].up->index);
            attempt_stop_unanswered (&q->att[i], now, TRUE);
          }
      query_complete (q, DDR_DOH_TIMEOUT, NULL, 0, NULL, 0);
    }

  /* Hedge: no answer within half the timeout, and another upstream exists. */
  while ((l = pool->unhedged.head) && ((Query *) l->data)->hedge_at <= now)
    {
      Query *q = l->data;
      Attempt *slot = free_slot (q);
      gboolean probe;
      Upstream *next;

      g_queue_unlink (&pool->unhedged, &q->hedge_link);
      q->hedge_link.data = NULL;
      if (!slot)
        continue;
      next = ddr_upstream_pick (pool, q->tried, now, &probe);
      if (next && start_attempt (q, slot, next, probe, FALSE))
        g_debug ("no answer yet; hedging on upstream %u", next->index);
    }

  rearm_timer (pool);
}

void
ddr_upstream_pool_send (DdrUpstreamPool *pool, const guint8 *query, gsize len,
                        const DdrDnsInfo *qinfo, DdrUpstreamDone done, gpointer user_data)
{
  Query *q;
  gint64 now = g_get_monotonic_time ();
  gboolean probe;
  Upstream *up;

  g_return_if_fail (pool && query && qinfo && done);

  q = g_new0 (Query, 1);
  q->pool = pool;
  q->msg = g_memdup2 (query, len);
  q->len = len;
  q->qinfo = *qinfo;
  q->done = done;
  q->user_data = user_data;
  q->deadline = now + (gint64) pool->timeout_ms * 1000;
  q->link.data = q;
  g_queue_push_tail_link (&pool->pending, &q->link);
  if (pool->n_ups > 1)
    {
      q->hedge_at = now + (gint64) pool->timeout_ms * 500;
      q->hedge_link.data = q;
      g_queue_push_tail_link (&pool->unhedged, &q->hedge_link);
    }

  up = ddr_upstream_pick (pool, 0, now, &probe);
  if (!start_attempt (q, &q->att[0], up, probe, FALSE))
    {
      /* curl refused it: fail, but from the main loop, never from here */
      q->last_status = DDR_DOH_TRANSPORT;
      q->fail_link.data = q;
      g_queue_push_tail_link (&pool->failed_now, &q->fail_link);
    }
  rearm_timer (pool);
}

/* ---- life cycle ---- */

DdrUpstreamPool *
ddr_upstream_pool_new (const DdrUpstreamConfig *config, GError **error)
{
  g_autoptr(GPtrArray) ips = NULL;
  g_autoptr(DdrUpstreamPool) pool = NULL;
  guint n_urls;

  g_return_val_if_fail (config, NULL);

  ips = ddr_upstream_config_check (config, error);
  if (!ips)
    return NULL;
  n_urls = g_strv_length (config->urls);

  pool = g_new0 (DdrUpstreamPool, 1);
  g_queue_init (&pool->pending);
  g_queue_init (&pool->unhedged);
  g_queue_init (&pool->failed_now);
  pool->timeout_ms = config->timeout_ms;
  pool->state_dir = config->state_dir && *config->state_dir ? g_strdup (config->state_dir) : NULL;
  pool->ups = g_new0 (Upstream, n_urls);
  pool->n_ups = n_urls;
  for (guint i = 0; i < n_urls; i++)
    {
      Upstream *up = &pool->ups[i];

      up->pool = pool;
      up->index = i;
      up->url = g_strdup (config->urls[i]);
      up->healthy = TRUE;
      up->ep = ddr_doh_endpoint_new (config->urls[i], error);
      if (!up->ep)
        return NULL;
      if (pool->state_dir && !ddr_doh_endpoint_host_is_ip (up->ep))
        {
          g_autofree char *name = g_strconcat ("last-good-", ddr_doh_endpoint_get_host (up->ep), NULL);

          up->state_file = g_build_filename (pool->state_dir, name, NULL);
        }
      if (ips->len > 1)
        ddr_doh_endpoint_set_addresses (up->ep, (const char *const *) ips->pdata);
      else if (up->state_file && (up->last_ip = ddr_upstream_load_last_good (up->state_file)))
        {
          const char *one[] = { up->last_ip, NULL };

          g_debug ("upstream %u: no bootstrap; using the last good address", i);
          ddr_doh_endpoint_set_addresses (up->ep, one);
        }
    }

  pool->client = ddr_doh_client_new (config->ca_file && *config->ca_file ? config->ca_file : NULL,
                                     config->method);
  pool->timer = ddr_deadline_source_new ("ddr-upstream-deadline", pool_timer_fire, pool);
  return g_steal_pointer (&pool);
}

void
ddr_upstream_pool_free (DdrUpstreamPool *pool)
{
  if (!pool)
    return;
  while (pool->pending.head)
    query_complete (pool->pending.head->data, DDR_DOH_CANCELLED, NULL, 0, NULL, 0);
  ddr_doh_client_free (pool->client);
  g_clear_pointer (&pool->timer, ddr_deadline_source_free);
  for (guint i = 0; i < pool->n_ups; i++)
    {
      g_free (pool->ups[i].url);
      ddr_doh_endpoint_free (pool->ups[i].ep);
      g_free (pool->ups[i].state_file);
      g_free (pool->ups[i].last_ip);
    }
  g_free (pool->ups);
  g_free (pool->state_dir);
  g_free (pool);
}

guint
ddr_upstream_pool_inflight (DdrUpstreamPool *pool)
{
  return pool->pending.length;
}

gboolean
ddr_upstream_pool_all_failing (DdrUpstreamPool *pool)
{
  for (guint i = 0; i < pool->n_ups; i++)
    if (pool->ups[i].healthy)
      return FALSE;
  return TRUE;
}

void
ddr_upstream_pool_drop_connections (DdrUpstreamPool *pool)
{
  ddr_doh_client_drop_connections (pool->client);
}

DdrUpstreamInfo *
ddr_upstream_pool_get_info (DdrUpstreamPool *pool, guint *n_upstreams)
{
  DdrUpstreamInfo *info = g_new0 (DdrUpstreamInfo, MAX (pool->n_ups, 1));

  for (guint i = 0; i < pool->n_ups; i++)
    {
      info[i].url = pool->ups[i].url;
      info[i].healthy = pool->ups[i].healthy;
      info[i].queries = pool->ups[i].queries;
      info[i].errors = pool->ups[i].errors;
      info[i].connects = pool->ups[i].connects;
    }
  if (n_upstreams)
    *n_upstreams = pool->n_ups;
  return info;
}
