/* sd_notify(3) without libsystemd: tell systemd we are ready, reloading or stopping. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sends state (e.g. "READY=1\nSTATUS=...") to $NOTIFY_SOCKET; does nothing without it. */
void ddr_sd_notify (const char *state);

/* With WatchdogSec= (WATCHDOG_USEC set, WATCHDOG_PID ours or unset): sends WATCHDOG=1
 * from the main loop at half the interval, so a hung loop gets killed and restarted.
 * Returns the source id, or 0 when there is no watchdog (and so no wake-ups). */
guint ddr_sd_watchdog_start (void);

G_END_DECLS
