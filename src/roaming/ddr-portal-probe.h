/* Our own captive-portal probe: a plain-HTTP GET of portal-probe-url, its host
 * resolved through the network's own DNS servers (never through the relay). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  DDR_PORTAL_CLEAR,      /* the expected answer: HTTP 204 (or 200 with an empty body) */
  DDR_PORTAL_DETECTED,   /* a redirect, another status, or a body: someone is in the way */
  DDR_PORTAL_UNKNOWN,    /* could not tell: name not resolved, no connection, timeout */
} DdrPortalResult;

/* url: http:// only. servers: IP literals to resolve its host through; NULL or
 * empty = the system resolver. Whole probe within timeout_ms. The response is
 * read up to 64 KiB. */
void            ddr_portal_probe_async  (const char          *url,
                                         const char *const   *servers,
                                         guint                timeout_ms,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
/* portal_url: on DETECTED, the redirect's Location (absolute, checked by
 * ddr_portal_url_check), "" when the portal named an address that failed that check,
 * else the probe URL; detail: one sentence for logs and Reason ("redirected to http://…",
 * "HTTP 200 with a 1234-byte body", "cannot resolve host: …"). */
DdrPortalResult ddr_portal_probe_finish (GAsyncResult  *result,
                                         char         **portal_url,
                                         char         **detail);

G_END_DECLS
