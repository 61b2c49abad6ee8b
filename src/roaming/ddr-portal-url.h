/* The gates for what the portal probe takes from the network: a captive portal's
 * address (hostile bytes in, a URL a tray may hand to a browser out) and the probe
 * host's DNS answers (DESIGN "Hostile input", STYLE rule 16). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DDR_PORTAL_URL_MAX 2048

/* raw: len bytes of a redirect's Location as they came from the network (NUL bytes
 * inside count as control characters); base: the URL that was redirected, against
 * which a relative Location is resolved. Returns the address to publish: http or
 * https, a host, no userinfo, valid UTF-8, no control characters, at most
 * DDR_PORTAL_URL_MAX bytes. NULL otherwise, with why (a static phrase for logs). */
char *ddr_portal_url_check (const char *base, const char *raw, gsize len, const char **why);

/* An answer of the network's DNS for the probe host: NULL when it may be probed, else
 * what it is ("loopback", "unspecified", "link-local", "multicast", "not an address";
 * ::ffff:a.b.c.d counts as a.b.c.d). */
const char *ddr_portal_address_refused (const char *text);

G_END_DECLS
