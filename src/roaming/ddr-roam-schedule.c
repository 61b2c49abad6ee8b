/* The re-probe schedule of the roaming checks: frequent while the trouble is young (a
 * service back after a short outage is used again within 10 s, a person who just
 * logged in to a portal is protected within a few seconds), then backing off so an
 * idle laptop on a dead network wakes up at most once a minute. */
#include "config.h"

#include "ddr-backoff.h"
#include "ddr-roam-schedule.h"

#define SERVICE_FIRST_MS  1000
#define SERVICE_EAGER_MS  10000    /* at least every 10 s for the first 2 minutes */
#define PORTAL_EVERY_MS   3000     /* every 3 s for the first 2 minutes */
#define LATER_MAX_MS      60000    /* afterwards at most a minute apart */

guint
ddr_roam_reprobe_delay (DdrReprobeKind kind, guint last_ms, gint64 lasted_ms)
{
  gboolean eager = lasted_ms < DDR_REPROBE_EAGER_MS;

  if (kind == DDR_REPROBE_PORTAL)
    return ddr_backoff_next (last_ms, PORTAL_EVERY_MS, eager ? PORTAL_EVERY_MS : LATER_MAX_MS);
  return ddr_backoff_next (last_ms, SERVICE_FIRST_MS, eager ? SERVICE_EAGER_MS : LATER_MAX_MS);
}
