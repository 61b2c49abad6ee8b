/* Private to the upstream pool: its state, shared by the pool, health and config code. */
#pragma once

#include <gio/gio.h>
#include "ddr-upstream-pool.h"
#include "ddr-doh-client.h"

G_BEGIN_DECLS

#define MAX_UPSTREAMS     32      /* a query's tried set is a bit mask */

typedef struct {
  DdrUpstreamPool *pool;
  guint           index;
  char           *url;
  DdrDohEndpoint *ep;
  char           *state_file;     /* last-good-<host>, NULL if not kept */
  char           *last_ip;
  gboolean        healthy;
  gboolean        warned;      /* a failure was logged since the last answer */
  gboolean        probing;        /* the one real query of a due retry is out */
  guint           backoff_ms;
  gint64          retry_at;       /* monotonic µs */
  gint64          last_success;   /* monotonic µs */
  guint64         queries, errors, connects;
} Upstream;

struct _DdrUpstreamPool {
  DdrDohClient *client;
  Upstream     *ups;
  guint         n_ups;
  guint         timeout_ms;
  char         *state_dir;
  GQueue        pending;
  GQueue        unhedged;
  GQueue        failed_now;
  GSource      *timer;
  DdrUpstreamHealthNotify health_notify;
  gpointer      health_data;
};


/* ddr-upstream-health.c */
void      ddr_upstream_warn_failure  (Upstream *up, const char *why);
void      ddr_upstream_mark_failed   (Upstream *up, gboolean probe, gint64 now, const char *why);
void      ddr_upstream_mark_success  (DdrUpstreamPool *pool, Upstream *up, const char *ip,
                                      gint64 now);
Upstream *ddr_upstream_pick          (DdrUpstreamPool *pool, guint32 tried, gint64 now,
                                      gboolean *probe);
char     *ddr_upstream_load_last_good (const char *path);

/* ddr-upstream-config.c */
char      *ddr_upstream_parse_ip_literal (const char *text);
/* The bootstrap addresses, bare and NULL-terminated; NULL (and error) if the
 * configuration is not valid. */
GPtrArray *ddr_upstream_config_check     (const DdrUpstreamConfig *config, GError **error);

G_END_DECLS
