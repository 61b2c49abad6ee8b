/* Retry back-off: one rule for every retry in the daemon (upstreams, probes, steering). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The delay after current_ms: first_ms when not backing off yet (current_ms below
 * first_ms, 0 included), else doubled, capped at max_ms. Never overflows. */
guint ddr_backoff_next (guint current_ms, guint first_ms, guint max_ms);

G_END_DECLS
