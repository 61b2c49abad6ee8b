/* Private to the curl DoH engine: its structures and the curl <-> GLib glue. */
#pragma once

#include "ddr-curl-glib.h"
#include "ddr-doh-client.h"
#include "ddr-doh-url.h"

#include <curl/curl.h>

G_BEGIN_DECLS

#define DOH_MAX_STREAMS        1000
#define DOH_IDLE_CONN_MAX_S    60   /* idle connections are closed, never pinged */
#define DOH_MAX_IDLE_HANDLES   1024 /* easy handles kept for reuse */
/* Transfers handed to curl at once; the rest wait here. curl 7.88 slows down badly
 * with thousands of transfers queued inside it (20000 at once: 800 q/s, timeouts). */
#define DOH_MAX_RUNNING        DOH_MAX_STREAMS

struct _DdrDohEndpoint {
  DdrDohUrl          url;         /* first: ddr-doh-url.c reads it through the endpoint */
  CURLU             *uh;
  struct curl_slist *resolve;     /* "host:port:ip1,ip2" or NULL */
  /* Client-side state. curl 7.88 parks transfers that wait for a connection in
   * one FIFO for all hosts and wakes one per finished transfer, so transfers
   * queued behind a hung upstream starve those of a working one. Until a
   * connection has answered, only one transfer per endpoint goes to curl. */
  guint              running;
  gboolean           ready;
};
G_STATIC_ASSERT (G_STRUCT_OFFSET (DdrDohEndpoint, url) == 0);

struct _DdrDohTransfer {
  DdrDohClient         *client;
  CURL                 *easy;
  GByteArray           *request;
  GByteArray           *body;
  CURLU                *get_uh;      /* GET: own copy of the endpoint URL, query rewritten */
  const DdrDohEndpoint *get_ep;
  DdrDohEndpoint       *ep;
  guint32               age_s;
  gboolean              too_big;
  DdrDohTransferDone    done;
  gpointer              user_data;
  GList                 link;        /* in client->active or client->waiting */
  gboolean              waiting;
};

struct _DdrDohClient {
  DdrCurlGlib       *loop;         /* the multi handle on the main loop */
  CURLM             *multi;        /* loop's, cached */
  char              *ca_file;
  DdrDohMethod       method;
  struct curl_slist *headers;
  GPtrArray         *idle;         /* DdrDohTransfer ready for reuse */
  GPtrArray         *idle_easy;    /* CURL easy handles ready for reuse */
  GQueue             active;       /* handed to curl */
  GQueue             waiting;      /* started, not yet handed to curl (see DdrDohEndpoint) */
};


G_END_DECLS
