/* Upstream health: back-off, marking failures and answers, choosing the next upstream, last-good addresses. */
#define G_LOG_DOMAIN "ddr-upstream"

#include "config.h"

#include "ddr-backoff.h"
#include "ddr-upstream-pool-private.h"

#include <errno.h>

#define BACKOFF_MIN_MS    1000
#define BACKOFF_MAX_MS    60000

/* Failures are logged without -v, once until the upstream answers again:
 * an operator must see why clients get SERVFAIL, not one line per query. */
void
ddr_upstream_warn_failure (Upstream *up, const char *why)
{
  if (up->warned)
    return;
  up->warned = TRUE;
  g_warning ("upstream %s: %s", up->url, why);
}

void
ddr_upstream_pool_set_health_notify (DdrUpstreamPool *pool, DdrUpstreamHealthNotify notify,
                                     gpointer user_data)
{
  pool->health_notify = notify;
  pool->health_data = user_data;
}

static void
health_flipped (Upstream *up)
{
  if (up->pool->health_notify)
    up->pool->health_notify (up->pool->health_data);
}

void
ddr_upstream_mark_failed (Upstream *up, gboolean probe, gint64 now, const char *why)
{
  ddr_upstream_warn_failure (up, why);
  if (up->healthy)
    {
      up->healthy = FALSE;
      up->backoff_ms = ddr_backoff_next (0, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
      up->retry_at = now + (gint64) up->backoff_ms * 1000;
      g_info ("upstream %u failed; retrying it in %u ms", up->index, up->backoff_ms);
      health_flipped (up);
    }
  else if (probe)
    {
      up->backoff_ms = ddr_backoff_next (up->backoff_ms, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
      up->retry_at = now + (gint64) up->backoff_ms * 1000;
      g_debug ("upstream %u still failing; next retry in %u ms", up->index, up->backoff_ms);
    }
}

static void
record_last_good (DdrUpstreamPool *pool, Upstream *up, const char *ip)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;

  if (!ip || !up->state_file || g_strcmp0 (ip, up->last_ip) == 0)
    return;
  g_free (up->last_ip);
  up->last_ip = g_strdup (ip);
  contents = g_strconcat (ip, "\n", NULL);
  if (g_mkdir_with_parents (pool->state_dir, 0755) != 0 ||
      !g_file_set_contents (up->state_file, contents, -1, &error))
    g_warning ("could not record the address of upstream %u in %s: %s", up->index,
               up->state_file, error ? error->message : g_strerror (errno));
  else
    g_debug ("upstream %u: recorded last good address", up->index);
}

void
ddr_upstream_mark_success (DdrUpstreamPool *pool, Upstream *up, const char *ip, gint64 now)
{
  up->last_success = now;
  if (up->warned)
    g_message ("upstream %s answers again", up->url);
  up->warned = FALSE;
  if (!up->healthy)
    {
      up->healthy = TRUE;
      up->backoff_ms = 0;
      health_flipped (up);
    }
  record_last_good (pool, up, ip);
}

/* First healthy in order; a failed one whose retry time has come gets one real
 * query; if nothing qualifies, the one due soonest (never refuse to try). */
Upstream *
ddr_upstream_pick (DdrUpstreamPool *pool, guint32 tried, gint64 now, gboolean *probe)
{
  Upstream *best = NULL;

  *probe = FALSE;
  for (guint i = 0; i < pool->n_ups; i++)
    {
      Upstream *up = &pool->ups[i];

      if (tried & (1u << i))
        continue;
      if (up->healthy)
        return up;
      if (!up->probing && up->retry_at <= now)
        {
          *probe = TRUE;
          return up;
        }
      if (!best || up->retry_at < best->retry_at)
        best = up;
    }
  return best;
}

char *
ddr_upstream_load_last_good (const char *path)
{
  g_autofree char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  return ddr_upstream_parse_ip_literal (g_strstrip (contents));
}
