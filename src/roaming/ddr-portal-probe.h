/* Our own captive-portal probe, as NetworkManager's connectivity check does it: a
 * libcurl GET of portal-probe-url, its host resolved through the network's own DNS
 * servers (never through the relay) and pinned, the socket bound to the network's
 * device, no proxy, no redirect followed. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  DDR_PORTAL_CLEAR,      /* the expected answer: HTTP 204 (or 200 with an empty body) */
  DDR_PORTAL_DETECTED,   /* a redirect, another status, or a body: someone is in the way */
  DDR_PORTAL_UNKNOWN,    /* could not tell: name not resolved, no connection, timeout */
} DdrPortalResult;

/* A body is read up to this many bytes: a portal page is small, and nothing past its
 * first bytes changes the verdict. */
#define DDR_PORTAL_MAX_BODY (64 * 1024)

/* url: http:// or https://. servers: IP literals to resolve its host through; NULL
 * or empty = the system resolver. Answers that are loopback, unspecified, link-local
 * or multicast are refused (a hostile DNS must not aim the probe at this machine).
 * iface: the network's device, the only one the probe may leave through; NULL = any.
 * Whole probe within timeout_ms. */
void            ddr_portal_probe_async  (const char          *url,
                                         const char *const   *servers,
                                         const char          *iface,
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
