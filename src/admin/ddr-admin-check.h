/* --action=check: resolve the check-domain through the relay and the system resolver. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "127.0.0.1:53", "[::1]:5300", "::1", "0.0.0.0" -> host and port to send a query to
 * (wildcards become loopback). FALSE when text is not such an address. Pure. */
gboolean ddr_admin_check_target (const char *listen, char **host, guint16 *port);
/* One A query for name over UDP to host:port; TRUE when NOERROR with at least one
 * A record, else *why says what came back. */
gboolean ddr_admin_check_query_relay (const char *host, guint16 port, const char *name,
                                      char **why);
/* 0 protected, 1 not protected or the daemon unreachable. */
int      ddr_admin_check        (void);

G_END_DECLS
