/* What the relay core and its listeners share: where a query came from and how to answer it. */
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include "ddr-relay.h"

G_BEGIN_DECLS

typedef struct _DdrUdpListener DdrUdpListener;
typedef struct _DdrTcpListener DdrTcpListener;
typedef struct _DdrTcpConn     DdrTcpConn;

typedef union {
  struct sockaddr         sa;
  struct sockaddr_in      in;
  struct sockaddr_in6     in6;
  struct sockaddr_storage ss;
} DdrSockaddr;

/* The origin of one query. UDP: the listener, the peer, and the local address
 * the datagram arrived on (so a wildcard listener answers from the right one).
 * TCP: the connection. Holds a reference on the listener or connection. */
typedef struct {
  DdrUdpListener *udp;
  DdrTcpConn     *tcp;
  DdrSockaddr     peer;
  socklen_t       peer_len;
  int             local_family;        /* 0 when unknown */
  union {
    struct in_pktinfo  v4;
    struct in6_pktinfo v6;
  } local;
} DdrOrigin;

/* Listener → relay: one query. msg may be modified in place (capacity len).
 * The relay calls ddr_origin_reply() exactly once for it, now or later. */
void     ddr_relay_handle_query (DdrRelay *relay, const DdrOrigin *origin,
                                 guint8 *msg, gsize len);
DdrStats *ddr_relay_stats_mut   (DdrRelay *relay);

/* Relay → listener. msg NULL = drop (no answer). Releases the origin's reference. */
void     ddr_origin_reply       (DdrOrigin *origin, const guint8 *msg, gsize len);
/* Largest answer this client accepts (UDP: 512 or its EDNS size; TCP: 65535). */
gsize    ddr_origin_max_answer  (const DdrOrigin *origin, const DdrDnsInfo *qinfo);

/* GSocket's bind errors repeat the address ("Error binding to address X: why"):
 * return just the why. */
const char *ddr_listen_error_reason (const GError *error);

/* Listeners */
DdrUdpListener *ddr_udp_listener_new    (DdrRelay *relay, GInetSocketAddress *address, GError **error);
/* Stop receiving; in-flight answers still go out; freed at the last reference. */
void            ddr_udp_listener_close  (DdrUdpListener *listener);
void            ddr_udp_listener_unref  (DdrUdpListener *listener);
DdrUdpListener *ddr_udp_listener_ref    (DdrUdpListener *listener);
void            ddr_udp_listener_send   (DdrUdpListener *listener, const DdrOrigin *origin,
                                         const guint8 *msg, gsize len);

typedef struct {
  guint idle_timeout_ms;
  guint max_clients;
} DdrTcpLimits;

DdrTcpListener *ddr_tcp_listener_new     (DdrRelay *relay, GInetSocketAddress *address,
                                          const DdrTcpLimits *limits, GError **error);
void            ddr_tcp_listener_set_limits (DdrTcpListener *listener, const DdrTcpLimits *limits);
/* Stop accepting and close every connection. */
void            ddr_tcp_listener_free    (DdrTcpListener *listener);

DdrTcpConn *ddr_tcp_conn_ref   (DdrTcpConn *conn);
void        ddr_tcp_conn_unref (DdrTcpConn *conn);
/* Queue a framed answer (NULL = the query was dropped) and account the finished query. */
void        ddr_tcp_conn_reply (DdrTcpConn *conn, const guint8 *msg, gsize len);


/* The set of listen addresses (a GPtrArray of DdrListen, freed with it).
 * Returns the new set for `addresses`: entries of `current` whose address is
 * still wanted are moved over (stolen from current), new ones are bound. On
 * error NULL, with nothing newly bound left open and current untouched. */
typedef struct _DdrListen DdrListen;
GPtrArray *ddr_listen_set_open         (DdrRelay *relay, GPtrArray *current, char **addresses,
                                        const DdrTcpLimits *limits, GError **error);
void       ddr_listen_set_apply_limits (GPtrArray *set, const DdrTcpLimits *limits);

G_END_DECLS
