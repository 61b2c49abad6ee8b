/* Relay statistics: counters and a latency histogram with percentiles. Pure code. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Log-linear buckets: 1 µs .. ~67 s with under 4 % relative error. */
#define DDR_STATS_SUB_BUCKETS 32
#define DDR_STATS_N_BUCKETS   (27 * DDR_STATS_SUB_BUCKETS)

typedef struct {
  guint64 queries;            /* every query received (UDP + TCP), valid or not */
  guint64 queries_udp;
  guint64 queries_tcp;
  guint64 cache_hits;
  guint64 stale_answers;
  guint64 servfail;           /* SERVFAIL sent to clients, any reason */
  guint64 refused;            /* ACL refusals */
  guint64 malformed;          /* FORMERR sent or dropped */
  guint64 nxdomain_local;     /* use-application-dns.net and friends */
  guint64 inflight_overflow;
  guint64 upstream_errors;    /* upstream attempts that failed (any upstream) */
  guint64 truncated;          /* UDP answers sent with TC */
  guint64 network_events;
  guint64 tcp_connections;
  guint64 tcp_rejected;       /* over tcp-max-clients */
  guint64 tcp_timeouts;       /* idle or slow clients closed */
  guint64 local_forwarded;    /* queries sent to a network's own DNS by a local route */

  guint64 latency_count;
  guint64 latency_buckets[DDR_STATS_N_BUCKETS];
} DdrStats;

void    ddr_stats_reset             (DdrStats *stats);
void    ddr_stats_record_latency    (DdrStats *stats, guint64 usec);
/* p in [0,1]; returns the upper bound of the bucket holding that quantile (µs), 0 if empty. */
guint64 ddr_stats_latency_quantile  (const DdrStats *stats, double p);

G_END_DECLS
