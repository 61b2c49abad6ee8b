/* The relay's view of the DNS service: probes through the DoH upstreams, and the all-failing watch. */
#define G_LOG_DOMAIN "ddr-relay"

#include "config.h"

#include "ddr-relay-private.h"
#include "ddr-dns-query.h"
#include "ddr-dns-edit.h"

struct _DdrRelayProbe {
  DdrRelay         *relay;
  GQueue            pending;          /* Probe, waiting for a pool */
  DdrHealthChanged  health_changed;
  gpointer          health_data;
  gboolean          reported_failing;
  guint             health_idle;
};

typedef struct {
  DdrRelayProbe   *owner;             /* NULL once the pool answered */
  DdrUpstreamPool *pool;
  GList            link;
  GTask           *task;
  char            *name;
  GSource         *cancel_source;
  char           **addresses;         /* the result, or */
  GError          *error;
  guint            idle;              /* returning the result from the main loop */
  gboolean         pool_done;
  gboolean         returned;
} Probe;

DdrRelayProbe *
ddr_relay_probe_new (DdrRelay *relay)
{
  DdrRelayProbe *probe = g_new0 (DdrRelayProbe, 1);

  probe->relay = relay;
  g_queue_init (&probe->pending);
  return probe;
}

void
ddr_relay_probe_free (DdrRelayProbe *probe)
{
  if (!probe)
    return;
  /* The pools are freed first, and complete every probe (CANCELLED) as they go. */
  g_warn_if_fail (probe->pending.length == 0);
  g_clear_handle_id (&probe->health_idle, g_source_remove);
  g_free (probe);
}

/* ---- health ---- */

static gboolean
health_check (gpointer user_data)
{
  DdrRelayProbe *probe = user_data;
  gboolean failing = ddr_upstream_pool_all_failing (probe->relay->pool);

  probe->health_idle = 0;
  if (failing != probe->reported_failing)
    {
      probe->reported_failing = failing;
      g_info ("every DoH upstream %s", failing ? "is failing" : "is no longer failing");
      if (probe->health_changed)
        probe->health_changed (failing, probe->health_data);
    }
  return G_SOURCE_REMOVE;
}

/* From inside the pool: look from the main loop, never from here (the
 * callback may do anything, even free the relay and with it this pool). */
static void
on_pool_health (gpointer user_data)
{
  DdrRelayProbe *probe = user_data;

  if (!probe->health_idle)
    probe->health_idle = g_idle_add (health_check, probe);
}

void
ddr_relay_probe_pool_changed (DdrRelayProbe *probe, DdrUpstreamPool *retired)
{
  if (retired)
    ddr_upstream_pool_set_health_notify (retired, NULL, NULL);
  ddr_upstream_pool_set_health_notify (probe->relay->pool, on_pool_health, probe);
  on_pool_health (probe);
}

void
ddr_relay_set_health_callback (DdrRelay *relay, DdrHealthChanged changed, gpointer user_data)
{
  relay->probe->health_changed = changed;
  relay->probe->health_data = user_data;
}

/* ---- probes ---- */

static void
probe_maybe_free (Probe *p)
{
  if (!p->pool_done || !p->returned || p->idle)
    return;
  if (p->cancel_source)
    g_source_destroy (p->cancel_source);
  g_clear_pointer (&p->cancel_source, g_source_unref);
  g_clear_object (&p->task);
  g_strfreev (p->addresses);
  g_clear_error (&p->error);
  g_free (p->name);
  g_free (p);
}

static gboolean
probe_return (gpointer user_data)
{
  Probe *p = user_data;

  p->idle = 0;
  if (!p->returned)
    {
      p->returned = TRUE;
      if (p->addresses)
        g_task_return_pointer (p->task, g_steal_pointer (&p->addresses), (GDestroyNotify) g_strfreev);
      else
        g_task_return_error (p->task, g_steal_pointer (&p->error));
    }
  probe_maybe_free (p);
  return G_SOURCE_REMOVE;
}

static gboolean
on_probe_cancelled (GCancellable *cancellable, gpointer user_data)
{
  Probe *p = user_data;

  (void) cancellable;
  if (!p->returned)
    {
      p->returned = TRUE;
      g_task_return_error_if_cancelled (p->task);
    }
  g_clear_handle_id (&p->idle, g_source_remove);
  probe_maybe_free (p);
  return G_SOURCE_REMOVE;
}

static const char *
rcode_name (guint rcode)
{
  switch (rcode)
    {
    case DDR_DNS_RCODE_FORMERR:  return "FORMERR";
    case DDR_DNS_RCODE_SERVFAIL: return "SERVFAIL";
    case DDR_DNS_RCODE_NXDOMAIN: return "NXDOMAIN";
    case DDR_DNS_RCODE_NOTIMP:   return "NOTIMP";
    case DDR_DNS_RCODE_REFUSED:  return "REFUSED";
    default:                     return "an error";
    }
}

static void
on_probe_done (DdrDohStatus status, guint8 *answer, gsize len, const DdrDnsInfo *rinfo,
               guint32 age_s, gpointer user_data)
{
  Probe *p = user_data;
  guint rcode;

  (void) age_s;
  p->pool_done = TRUE;
  g_queue_unlink (&p->owner->pending, &p->link);
  if (status == DDR_DOH_CANCELLED)
    p->error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "the relay was stopped");
  else
    {
      /* The pool may be a retired one: it can go once this was its last query. */
      if (p->pool != p->owner->relay->pool)
        ddr_relay_schedule_retired_check (p->owner->relay);
      if (status == DDR_DOH_TIMEOUT)
        p->error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                "the ThreatSTOP service is unreachable: %s",
                                ddr_relay_failure_text (status));
      else if (status != DDR_DOH_OK)
        p->error = g_error_new (G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE,
                                "the ThreatSTOP service is unreachable: %s",
                                ddr_relay_failure_text (status));
      else if ((rcode = DDR_DNS_RCODE (rinfo->flags)) != DDR_DNS_RCODE_NOERROR)
        p->error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                "the ThreatSTOP service answered %s for %s", rcode_name (rcode),
                                p->name);
      else
        {
          p->addresses = ddr_dns_answer_addresses (answer, len, DDR_DNS_TYPE_A);
          if (!p->addresses[0])
            {
              g_clear_pointer (&p->addresses, g_strfreev);
              p->error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                      "the ThreatSTOP service gave no address for %s", p->name);
            }
        }
    }
  p->owner = NULL;
  if (p->returned)
    probe_maybe_free (p);
  else
    p->idle = g_idle_add (probe_return, p);   /* never back into the caller from the pool */
}

void
ddr_relay_probe_async (DdrRelay *relay, const char *name, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  guint8 buf[512];
  gsize len;
  DdrDnsInfo qinfo;
  Probe *p;

  g_task_set_source_tag (task, ddr_relay_probe_async);
  len = ddr_dns_build_query (name ? name : "", DDR_DNS_TYPE_A, 0, buf, sizeof buf);
  if (!name || len <= DDR_DNS_HEADER_LEN + 1 + 4)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "invalid name to probe \"%s\": expected a domain name such as "
                               "check.example.com", name ? name : "(null)");
      return;
    }
  /* Like every query the relay sends: EDNS, padded (RFC 8467). */
  len = ddr_dns_pad_query (buf, len, sizeof buf, DDR_DNS_PADDING_BLOCK);
  if (len == 0 || ddr_dns_parse_query (buf, len, &qinfo) != DDR_DNS_OK)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "cannot build a probe query for \"%s\"", name);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  p = g_new0 (Probe, 1);
  p->owner = relay->probe;
  p->pool = relay->pool;
  p->link.data = p;
  p->task = g_steal_pointer (&task);
  p->name = g_strdup (name);
  g_queue_push_tail_link (&relay->probe->pending, &p->link);
  if (cancellable)
    {
      p->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (p->cancel_source, (GSourceFunc) (void (*) (void)) on_probe_cancelled,
                             p, NULL);
      g_source_attach (p->cancel_source, g_task_get_context (p->task));
    }
  /* Straight to the pool: no cache, no local route. */
  ddr_upstream_pool_send (relay->pool, buf, len, &qinfo, on_probe_done, p);
}

char **
ddr_relay_probe_finish (DdrRelay *relay, GAsyncResult *result, GError **error)
{
  (void) relay;   /* may be gone already when the probe was cancelled by ddr_relay_free */
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
