/* Plain DNS over UDP to one of the network's own servers (split DNS, portal and trust probes). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Sends query (a complete DNS message; its ID is replaced by a random one and put
 * back in the answer) to each server in turn (IP literals, port 53; "[::1]:5353"
 * and "127.0.0.1:5353" forms give a port) until one answers, each within
 * timeout_ms. An answer is only accepted from the server's address, with the
 * query's ID and question. A TC answer over UDP is retried over TCP. The answer
 * goes back with the caller's ID. Errors: G_IO_ERROR_TIMED_OUT (no server
 * answered), G_IO_ERROR_INVALID_ARGUMENT (a bad server literal or no server),
 * G_IO_ERROR_CANCELLED. Never calls back synchronously. */
void     ddr_dns_udp_query_async  (const char *const   *servers,
                                   GBytes              *query,
                                   guint                timeout_ms,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
GBytes  *ddr_dns_udp_query_finish (GAsyncResult *result, GError **error);

/* Looks up name's A (qtype 1) or AAAA (28) records through servers (as above).
 * Returns the addresses as text (an empty vector for NXDOMAIN/NODATA) and the
 * answer's rcode; NULL with error when no server answered. */
void     ddr_dns_lookup_async     (const char *const   *servers,
                                   const char          *name,
                                   guint16              qtype,
                                   guint                timeout_ms,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
char   **ddr_dns_lookup_finish    (GAsyncResult *result, guint *rcode, GError **error);

G_END_DECLS
