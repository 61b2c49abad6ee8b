/* An upstream's https URL, parsed the same way whichever DoH engine is built. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DDR_DOH_URL_HINT "expected https://host[:port]/path"

typedef struct {
  char     *host;        /* "[::1]" for IPv6, as curl writes it */
  char     *bare_host;   /* "::1": for the resolver, SNI and certificate checks */
  char     *port;        /* decimal, 443 when the URL gives none */
  char     *path;        /* without the query, never empty */
  char     *query;       /* the URL's own query, NULL if none; a fragment is dropped */
  gboolean  host_is_ip;
} DdrDohUrl;

/* Only https://host[:port]/path[?query] is accepted; errors name the URL. */
gboolean ddr_doh_url_parse (const char *url, DdrDohUrl *out, GError **error);
void     ddr_doh_url_clear (DdrDohUrl *url);
/* Sets an INVALID_ARGUMENT error in the form every URL error has; returns FALSE. */
gboolean ddr_doh_url_error (GError **error, const char *url, const char *what,
                            const char *detail);
/* The addresses to pin the host to, without brackets; NULL when there is nothing
 * to pin (an IP literal host, or no addresses). */
char   **ddr_doh_url_pin_addresses (const DdrDohUrl *url, const char *const *ips);

/* Appends the query a GET sends: dns=, the message in base64url without padding
 * (RFC 8484 §6), then the URL's own query. dns= goes first: unbound 404s
 * "?x=1&dns=..." but takes "?dns=...&x=1". */
void     ddr_doh_url_append_get_query (const DdrDohUrl *url, GString *out,
                                       const guint8 *msg, gsize len);

G_END_DECLS
