/* Upstream pool: DoH upstreams in priority order, health from real traffic, failover. */
#pragma once

#include <glib.h>
#include "ddr-dns-wire.h"

G_BEGIN_DECLS

typedef enum {
  DDR_DOH_METHOD_POST = 0,
  DDR_DOH_METHOD_GET,
} DdrDohMethod;

typedef struct {
  char       **urls;        /* https URLs in priority order (NULL-terminated, >= 1) */
  char       **bootstrap;   /* IP literals for every URL host (may be NULL/empty) */
  char        *ca_file;     /* CA bundle, NULL = system store */
  guint        timeout_ms;  /* per query: answer, or a failure callback, within this */
  DdrDohMethod method;
  char        *state_dir;   /* where last-good addresses are kept; NULL = nowhere */
} DdrUpstreamConfig;

typedef enum {
  DDR_DOH_OK = 0,
  DDR_DOH_TIMEOUT,          /* no answer within timeout_ms */
  DDR_DOH_TRANSPORT,        /* connect refused, reset, TLS failure, every upstream failed */
  DDR_DOH_HTTP_STATUS,      /* non-200 */
  DDR_DOH_BAD_RESPONSE,     /* wrong content type, unparsable body, mismatched question */
  DDR_DOH_CANCELLED,        /* pool freed while the query was pending */
} DdrDohStatus;

const char *ddr_doh_status_to_string (DdrDohStatus status);

/* Called exactly once per ddr_upstream_pool_send(). On DDR_DOH_OK, answer is a
 * response that ddr_dns_parse_response accepted and whose question equals the
 * query's; rinfo describes it; age_s is the HTTP Age header (0 if none). The
 * buffer is only valid during the call (the callee may modify it in place). */
typedef void (*DdrUpstreamDone) (DdrDohStatus status, guint8 *answer, gsize len,
                                 const DdrDnsInfo *rinfo, guint32 age_s, gpointer user_data);

typedef struct _DdrUpstreamPool DdrUpstreamPool;

typedef struct {
  const char *url;
  gboolean    healthy;
  guint64     queries;      /* attempts sent to it */
  guint64     errors;       /* attempts that failed */
  guint64     connects;     /* new connections opened */
} DdrUpstreamInfo;

/* Validates the configuration (https URLs only, IP literals for bootstrap,
 * readable ca_file) with messages that name the bad value. */
DdrUpstreamPool *ddr_upstream_pool_new  (const DdrUpstreamConfig *config, GError **error);
/* Every pending query is completed with DDR_DOH_CANCELLED before this returns. */
void             ddr_upstream_pool_free (DdrUpstreamPool *pool);

/* Send a query (ID already 0, already padded; copied). qinfo is the query's
 * parse (for the question check). Never calls back synchronously. */
void  ddr_upstream_pool_send (DdrUpstreamPool *pool, const guint8 *query, gsize len,
                              const DdrDnsInfo *qinfo, DdrUpstreamDone done, gpointer user_data);

guint    ddr_upstream_pool_inflight      (DdrUpstreamPool *pool);
/* TRUE while no upstream is healthy (the relay may then serve stale answers). */
gboolean ddr_upstream_pool_all_failing   (DdrUpstreamPool *pool);
/* Close every connection (network change, resume); pending queries retry on new ones. */
void     ddr_upstream_pool_drop_connections (DdrUpstreamPool *pool);
/* Called from inside the pool whenever an upstream's health flips (either
 * way); compare ddr_upstream_pool_all_failing from the main loop. The callee
 * must not free the pool from here. NULL stops it. */
typedef void (*DdrUpstreamHealthNotify) (gpointer user_data);
void     ddr_upstream_pool_set_health_notify (DdrUpstreamPool *pool, DdrUpstreamHealthNotify notify,
                                              gpointer user_data);
/* Snapshot of the upstreams, in priority order; free with g_free (strings belong to the pool). */
DdrUpstreamInfo *ddr_upstream_pool_get_info (DdrUpstreamPool *pool, guint *n_upstreams);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrUpstreamPool, ddr_upstream_pool_free)

G_END_DECLS
