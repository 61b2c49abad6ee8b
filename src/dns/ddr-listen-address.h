/* Parsing of listen addresses ("127.0.0.1:53", "[::1]:5300", "0.0.0.0"): shared by the
 * configuration loader, the relay and the admin CLI. Pure code. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* "127.0.0.1:53", "[::1]:5300", "[::1]", "0.0.0.0" -> address (default port 53).
 * IPv6 only in brackets. The error names the text and the accepted form. */
GInetSocketAddress *ddr_parse_listen_address (const char *text, GError **error);

G_END_DECLS
