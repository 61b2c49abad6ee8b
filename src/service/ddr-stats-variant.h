/* GetStatistics(): relay counters as the a{sv} dictionary DESIGN.md names. Pure code. */
#pragma once

#include <glib.h>
#include "ddr-stats.h"
#include "ddr-upstream-pool.h"

G_BEGIN_DECLS

/* A floating a{sv}: the documented keys with their documented types, plus extras. */
GVariant *ddr_stats_to_variant (const DdrStats        *stats,
                                guint                  inflight,
                                const DdrUpstreamInfo *upstreams,
                                guint                  n_upstreams,
                                guint64                uptime_s);

G_END_DECLS
