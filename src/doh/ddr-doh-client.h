/* DoH client: one curl multi handle on the GLib main loop, HTTP/2, reused easy handles. */
#pragma once

#include <glib.h>
#include "ddr-upstream-pool.h"

G_BEGIN_DECLS

#define DDR_DOH_MAX_BODY 65535

typedef struct _DdrDohClient   DdrDohClient;
typedef struct _DdrDohEndpoint DdrDohEndpoint;
typedef struct _DdrDohTransfer DdrDohTransfer;

/* What one HTTP exchange gave. OK means HTTP 200 with an application/dns-message
 * body of at most DDR_DOH_MAX_BODY bytes; the DNS content is not looked at here. */
typedef struct {
  DdrDohStatus status;        /* OK, TRANSPORT, HTTP_STATUS or BAD_RESPONSE */
  long         http_status;   /* 0 if no response */
  int          curl_code;     /* CURLcode */
  const char  *error;         /* curl's message, "" if none */
  guint8      *body;          /* valid during the callback only; may be modified */
  gsize        body_len;
  guint32      age_s;         /* HTTP Age, 0 if none */
  guint        connects;      /* connections this transfer opened */
  gboolean     reused;        /* it ran on an existing connection (a failure: died there) */
  const char  *primary_ip;    /* address it talked to, NULL if unknown */
} DdrDohResult;

typedef void (*DdrDohTransferDone) (const DdrDohResult *result, gpointer user_data);

/* One upstream URL, parsed once. Only https://host[:port]/path is accepted. */
DdrDohEndpoint *ddr_doh_endpoint_new  (const char *url, GError **error);
void            ddr_doh_endpoint_free (DdrDohEndpoint *endpoint);
const char     *ddr_doh_endpoint_get_host (const DdrDohEndpoint *endpoint);
/* TRUE if the URL's host is an IP literal (nothing to resolve). */
gboolean        ddr_doh_endpoint_host_is_ip (const DdrDohEndpoint *endpoint);
/* Pin the host to these IP literals (CURLOPT_RESOLVE); NULL/empty = resolve normally. */
void            ddr_doh_endpoint_set_addresses (DdrDohEndpoint *endpoint,
                                                const char *const *ips);

DdrDohClient   *ddr_doh_client_new  (const char *ca_file, DdrDohMethod method);
/* Active transfers are dropped without a callback: cancel them first. */
void            ddr_doh_client_free (DdrDohClient *client);

/* Start one exchange (query copied). Calls back exactly once, never from here,
 * unless cancelled. NULL only if curl refuses the transfer. */
DdrDohTransfer *ddr_doh_client_start  (DdrDohClient *client, DdrDohEndpoint *endpoint,
                                       const guint8 *query, gsize len,
                                       DdrDohTransferDone done, gpointer user_data);
/* Stop a transfer; its callback is not called. */
void            ddr_doh_client_cancel (DdrDohClient *client, DdrDohTransfer *transfer);
/* Close every connection; active transfers start over on new ones. */
void            ddr_doh_client_drop_connections (DdrDohClient *client);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrDohEndpoint, ddr_doh_endpoint_free)

G_END_DECLS
