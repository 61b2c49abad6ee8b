/* sd_notify(3) without libsystemd: tell systemd we are ready, reloading or stopping. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sends state (e.g. "READY=1\nSTATUS=...") to $NOTIFY_SOCKET; does nothing without it. */
void ddr_sd_notify (const char *state);

G_END_DECLS
