/* The relay core: plain DNS from the listeners, answers from cache or DoH upstreams. */
#pragma once

#include <gio/gio.h>
#include "ddr-upstream-pool.h"
#include "ddr-stats.h"

G_BEGIN_DECLS

typedef struct {
  DdrUpstreamConfig upstream;
  char   **listen;               /* "127.0.0.1:53", "[::1]:53", "0.0.0.0" (port 53) */
  char   **acl;                  /* CIDR entries, already validated */
  char    *check_domain;         /* may be NULL */
  guint    cache_size;           /* entries; 0 disables */
  guint32  cache_min_ttl;
  guint32  cache_max_ttl;
  guint    max_inflight;
  gboolean query_log;
  guint    tcp_idle_timeout_ms;
  guint    tcp_max_clients;
} DdrRelayConfig;

void ddr_relay_config_clear (DdrRelayConfig *config);

typedef struct _DdrRelay DdrRelay;

/* Binds every listen address (UDP and TCP) and creates the upstream pool. */
DdrRelay *ddr_relay_new         (const DdrRelayConfig *config, GError **error);
void      ddr_relay_free        (DdrRelay *relay);

/* Apply a new configuration: new listeners are bound before old ones close;
 * the cache is flushed. On error nothing changes. */
gboolean  ddr_relay_reconfigure (DdrRelay *relay, const DdrRelayConfig *config, GError **error);

void            ddr_relay_flush_cache      (DdrRelay *relay);
/* Network change or resume: drop upstream connections and the cache. */
void            ddr_relay_network_changed  (DdrRelay *relay);
/* The same network renewed its lease (DHCP): counted as a network event, nothing
 * flushed, no connection dropped. */
void            ddr_relay_network_renewed  (DdrRelay *relay);
const DdrStats *ddr_relay_get_stats        (DdrRelay *relay);
guint           ddr_relay_get_inflight     (DdrRelay *relay);
DdrUpstreamInfo *ddr_relay_get_upstreams   (DdrRelay *relay, guint *n_upstreams);
/* One "statistics:" line plus one line per upstream, at message level. */
void            ddr_relay_log_statistics   (DdrRelay *relay);

/* ---- roaming hooks (the relay stays NetworkManager-agnostic: the roaming
 * controller computes these and hands them over) ---- */

/* Split DNS: names at or under domain go to servers (the network's own DNS, IP
 * literals, plain DNS) instead of the DoH service. domain "" means single-label
 * names ("printer"); exact: domain itself only. The longest matching domain
 * wins. Answers are not cached. On an untrusted route, wpad and isatap names
 * (any label) are answered NXDOMAIN by the relay instead: whoever answers them
 * can take over the client's web proxy or IPv6 routing. Replaces the previous
 * table; n_routes 0 clears it. */
typedef struct {
  const char        *domain;
  const char *const *servers;
  gboolean           exact;
  gboolean           untrusted;
} DdrLocalRoute;

void      ddr_relay_set_local_routes (DdrRelay *relay, const DdrLocalRoute *routes, guint n_routes);
/* The route a name would take: the servers, or NULL for the DoH service. For tests and logs. */
const char *const *ddr_relay_route_for (DdrRelay *relay, const char *name);

/* The service probe: an A query for name straight through the DoH upstreams
 * (never the cache, never a local route). Succeeds when the answer is NOERROR
 * with at least one A record; addresses (text) are returned for comparison.
 * Errors say why in one sentence (upstream unreachable, NXDOMAIN, no address). */
void      ddr_relay_probe_async  (DdrRelay            *relay,
                                  const char          *name,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
char    **ddr_relay_probe_finish (DdrRelay *relay, GAsyncResult *result, GError **error);

/* The steering canary: the relay answers a query for exactly name (any type;
 * A gets 192.0.0.8, TTL 0) locally and calls seen once. name NULL cancels. */
typedef void (*DdrCanarySeen) (gpointer user_data);
void      ddr_relay_expect_canary (DdrRelay *relay, const char *name,
                                   DdrCanarySeen seen, gpointer user_data);

/* Called (from the main loop) when "every upstream is failing" flips, either way. */
typedef void (*DdrHealthChanged) (gboolean all_failing, gpointer user_data);
void      ddr_relay_set_health_callback (DdrRelay *relay, DdrHealthChanged changed,
                                         gpointer user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrRelay, ddr_relay_free)

G_END_DECLS
