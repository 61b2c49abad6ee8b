/* The nghttp2 DoH engine's shared types: ddr-h2-client.c (endpoints, transfers,
 * results), ddr-h2-conn.c (one TLS + HTTP/2 connection per host:port) and
 * ddr-h2-connect.c (getting that connection up). */
#pragma once

#include <gio/gio.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "ddr-doh-client.h"
#include "ddr-doh-url.h"

G_BEGIN_DECLS

typedef struct _DdrH2Conn DdrH2Conn;

struct _DdrDohEndpoint {
  DdrDohUrl url;         /* first: ddr-doh-url.c reads it through the endpoint */
  char     *key;         /* "host:port": which connection it goes on */
  char     *authority;   /* :authority, host[:port] (port only when not 443) */
  char     *post_path;   /* path[?query] */
  char    **ips;         /* pinned addresses (CURLOPT_RESOLVE), NULL = resolve */
};
G_STATIC_ASSERT (G_STRUCT_OFFSET (DdrDohEndpoint, url) == 0);

typedef enum {
  XFER_IDLE = 0,  /* in the free list */
  XFER_QUEUED,    /* on a connection that is not ready yet (conn->queued) */
  XFER_STREAM,    /* submitted to nghttp2 (conn->streams) */
  XFER_DONE,      /* finished, callback pending (client->done) */
} XferState;

struct _DdrDohTransfer {
  DdrDohClient      *client;
  DdrDohEndpoint    *ep;
  DdrH2Conn         *conn;
  GList              link;       /* in conn->queued, conn->streams or client->done */
  XferState          state;
  gint32             stream_id;
  gboolean           waited;     /* queued while its connection was being set up */
  GByteArray        *request;    /* POST body */
  gsize              request_off;
  GString           *path;       /* GET :path */
  char               content_length[16];
  GByteArray        *body;
  int                http_status;
  gboolean           content_type_ok;
  guint32            age_s;
  /* the outcome, filled when it finishes */
  DdrDohStatus       status;
  gboolean           reused;
  guint              connects;
  const char        *error;
  char               errbuf[160];
  char               ip[48];
  DdrDohTransferDone done;
  gpointer           user_data;
};

struct _DdrDohClient {
  SSL_CTX      *ssl_ctx;
  DdrDohMethod  method;
  GQueue        conns;      /* DdrH2Conn, open or being opened */
  GQueue        done;       /* finished transfers whose callback is due */
  GPtrArray    *idle;       /* transfers for reuse */
  GSource      *pump;       /* flushes connections once per loop pass, delivers results */
  guint8       *rbuf;       /* one read buffer for every connection */
  gsize         rbuf_len;
  char         *user_agent;
};

/* ddr-h2-client.c: a transfer is over; queue its callback (never called from here).
 * status OK means: judge the HTTP response collected in the transfer. */
void ddr_h2_transfer_finish (DdrDohTransfer *t, DdrDohStatus status, gboolean reused,
                             const char *fmt, ...) G_GNUC_PRINTF (4, 5);
/* Put a transfer (again) on a usable connection for its endpoint. */
void ddr_h2_transfer_dispatch (DdrDohClient *c, DdrDohTransfer *t);
/* Deliver every due callback. Call only where no connection state is in use. */
void ddr_h2_client_deliver (DdrDohClient *c);

/* One TLS + HTTP/2 connection (ddr-h2-conn.c; its HTTP/2 side in ddr-h2-stream.c). */
typedef enum {
  C_NEW,
  C_RESOLVING,
  C_CONNECTING,
  C_HANDSHAKE,
  C_READY,
  C_CLOSED,
} ConnState;

typedef struct _ResolveReq ResolveReq;

struct _ResolveReq {
  DdrH2Conn    *conn;      /* NULL once the connection is gone */
  GCancellable *cancel;
};

typedef struct _ConnSource ConnSource;

struct _DdrH2Conn {
  DdrDohClient    *client;
  GList            link;      /* in client->conns */
  char            *key;
  char            *host;      /* bare */
  char            *port;
  gboolean         host_is_ip;
  char           **addrs;
  guint            next_addr;
  ConnState        state;
  gboolean         draining;  /* GOAWAY or stream IDs used up: no new streams */
  int              fd;
  ConnSource      *src;
  GIOCondition     cond;
  SSL             *ssl;
  nghttp2_session *h2;
  GQueue           queued;    /* waiting for C_READY */
  GQueue           streams;   /* submitted */
  GByteArray      *out;
  gsize            out_off;
  char             ip[48];
  char             last_error[128];
  gboolean         connect_credit;
  GSource         *idle_timer;
  ResolveReq      *resolve;
};

/* ddr-h2-conn.c */
DdrH2Conn *ddr_h2_conn_new       (DdrDohClient *c, DdrDohEndpoint *ep);
gboolean   ddr_h2_conn_usable    (DdrH2Conn *conn, const DdrDohEndpoint *ep);
/* Queue or submit the transfer on this connection. */
void       ddr_h2_conn_add       (DdrH2Conn *conn, DdrDohTransfer *t);
/* Take a transfer off its connection (RST_STREAM if it has a stream). */
void       ddr_h2_conn_remove    (DdrH2Conn *conn, DdrDohTransfer *t);
/* Write what nghttp2 has queued: one SSL_write. */
void       ddr_h2_conn_flush     (DdrH2Conn *conn);
/* Close now; transfers on it are detached and appended to *orphans, not failed. */
void       ddr_h2_conn_drop      (DdrH2Conn *conn, GQueue *orphans);
/* The first transfer to finish on a connection counts its connect; all get its address. */
void       ddr_h2_conn_take_credit (DdrH2Conn *conn, DdrDohTransfer *t);
/* Arm the 60 s idle timer when nothing is on it, disarm it otherwise. */
void       ddr_h2_conn_check_idle  (DdrH2Conn *conn);
/* Fail every transfer on it and close it. */
void       ddr_h2_conn_fail        (DdrH2Conn *conn, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* The fd source: POLLIN always, POLLOUT only while something waits to be written. */
void       ddr_h2_conn_watch       (DdrH2Conn *conn, GIOCondition cond);
void       ddr_h2_conn_set_cond    (DdrH2Conn *conn, GIOCondition cond);
void       ddr_h2_conn_close_fd    (DdrH2Conn *conn);
const char *ddr_h2_conn_ssl_error_text (DdrH2Conn *conn, int rc, char *buf, gsize len);

/* ddr-h2-connect.c */
/* Resolve (unless pinned), then connect to each address in turn, then TLS. */
void       ddr_h2_connect_start     (DdrH2Conn *conn);
/* POLLOUT on a connecting socket: TLS, or the next address. */
void       ddr_h2_connect_finish    (DdrH2Conn *conn);
/* One step of the TLS handshake; on success the session starts and queued transfers go out. */
void       ddr_h2_connect_handshake (DdrH2Conn *conn);

/* ddr-h2-stream.c */
gboolean   ddr_h2_session_setup  (DdrH2Conn *conn);
/* Submit the request on a ready connection (or move it on, or fail it). */
void       ddr_h2_conn_submit    (DdrH2Conn *conn, DdrDohTransfer *t);

G_END_DECLS
