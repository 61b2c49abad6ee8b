/* install: is a listen address already taken, and by which process? */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* FALSE (and an error naming the address, UDP or TCP and "NAME (pid N)") when a socket
 * of another process already holds one of the listen addresses ("127.0.0.1:53",
 * "[::1]:53", wildcards included), read from /proc/net/{udp,tcp}{,6} and /proc/PID/fd.
 * Holders whose "NAME (pid" starts with one of ours (e.g. "threatstop-ddrd ") are
 * ignored: a re-install restarts them. */
gboolean ddr_admin_port_check (char **listen, const char *const *ours, GError **error);

G_END_DECLS
