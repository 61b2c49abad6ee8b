/* What the relay core and its listeners share: where a query came from and how to answer it. */
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include "ddr-relay.h"
#include "ddr-acl.h"
#include "ddr-dns-cache.h"
#include "ddr-listen-address.h"

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
/* The client ACL (acl=): the UDP and TCP listeners ask it per datagram and at accept. */
gboolean  ddr_relay_acl_allows   (DdrRelay *relay, const struct sockaddr *sa, socklen_t salen);

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


/* The relay's state, shared by the relay core (ddr-relay.c) and its hook files. */
typedef struct _DdrRelayLocal DdrRelayLocal;
typedef struct _DdrRelayProbe DdrRelayProbe;

struct _DdrRelay {
  GPtrArray       *listens;          /* DdrListen */
  DdrAcl          *acl;
  DdrDnsCache     *cache;
  DdrUpstreamPool *pool;
  char            *pool_signature;   /* what the pool was built from */
  GPtrArray       *retired_pools;    /* replaced by a reload, freed once drained */
  guint            retire_idle_id;
  DdrStats         stats;
  guint            inflight;
  guint            max_inflight;
  gboolean         query_log;
  DdrTcpLimits     tcp_limits;
  GPtrArray       *free_queries;     /* recycled DdrQuery structs */
  DdrRelayLocal   *local;            /* split DNS and the canary (ddr-relay-local.c) */
  DdrRelayProbe   *probe;            /* service probes and health (ddr-relay-probe.c) */
  guint8           scratch[DDR_DNS_MAX_MSG + 1];
};

/* ddr-relay.c, for the hook files */
void        ddr_relay_send_answer  (DdrRelay *relay, DdrOrigin *origin, const guint8 *query,
                                    const DdrDnsInfo *qinfo, guint8 *msg, gsize len);
void        ddr_relay_send_error   (DdrRelay *relay, DdrOrigin *origin, const guint8 *query,
                                    gsize query_len, const DdrDnsInfo *qinfo, DdrDnsRcode rcode,
                                    int ede, const char *text);
void        ddr_relay_log_query    (DdrRelay *relay, const DdrOrigin *origin,
                                    const DdrDnsInfo *qinfo, const char *how);
const char *ddr_relay_failure_text (DdrDohStatus status);
void        ddr_relay_schedule_retired_check (DdrRelay *relay);

/* ddr-relay-local.c: split DNS routes and the steering canary. handle returns
 * TRUE when it took the query (and the origin's reference). */
DdrRelayLocal *ddr_relay_local_new    (DdrRelay *relay);
void           ddr_relay_local_free   (DdrRelayLocal *local);
gboolean       ddr_relay_local_handle (DdrRelayLocal *local, DdrOrigin *origin,
                                       const DdrDnsInfo *qinfo, guint8 *msg, gsize len);

/* ddr-relay-probe.c: service probes and the all-failing watch. pool_changed
 * is called after relay->pool was replaced (retired is the old one or NULL). */
DdrRelayProbe *ddr_relay_probe_new          (DdrRelay *relay);
void           ddr_relay_probe_free         (DdrRelayProbe *probe);
void           ddr_relay_probe_pool_changed (DdrRelayProbe *probe, DdrUpstreamPool *retired);

G_END_DECLS
