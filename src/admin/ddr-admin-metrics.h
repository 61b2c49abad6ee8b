/* --action=metrics: the daemon's state and statistics in Prometheus' text format 0.0.4. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The states threatstop_ddr_state is one-hot over: DESIGN.md's roaming states, then
 * "stopped" (the daemon is not running). NULL-terminated. */
const char *const *ddr_admin_metrics_states (void);

/* The exposition text. props: the interface's properties (a{sv}), NULL when the daemon
 * did not answer (threatstop_ddr_up 0); statistics: GetStatistics()'s a{sv} or NULL.
 * No network names and no query names: only states, counters and upstream URLs. */
char *ddr_admin_metrics_text (GVariant *props, GVariant *statistics);

/* Prints the text, or (output != NULL) replaces the file atomically. The daemon being
 * down is not a failure (a scrape must not fail): 0, or 1 when the file cannot be
 * written. */
int   ddr_admin_metrics (const char *output);

G_END_DECLS
