/* When the roaming checks look again while something is wrong (issue 12): the
 * re-probe schedule of the service probe and of our own portal probe. Pure. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  DDR_REPROBE_SERVICE,   /* the network is up, the service does not answer */
  DDR_REPROBE_PORTAL,    /* a captive portal is in the way: someone may be logging in */
} DdrReprobeKind;

/* The eager phase: how long after the trouble began the re-probes stay frequent. */
#define DDR_REPROBE_EAGER_MS (2 * 60 * 1000)

/* The wait before the next probe, from the last wait (0 = none yet) and how long the
 * trouble has lasted (ms since the first failure, or since the portal was first seen).
 * Service: 1 s doubling to 10 s during the eager phase, then doubling to 60 s.
 * Portal: every 3 s during the eager phase, then doubling to 60 s. */
guint ddr_roam_reprobe_delay (DdrReprobeKind kind, guint last_ms, gint64 lasted_ms);

G_END_DECLS
