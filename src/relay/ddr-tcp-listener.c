/* TCP listener (RFC 7766): pipelined queries answered out of order, bounded clients and queues. */
#define G_LOG_DOMAIN "ddr-tcp"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <glib-unix.h>

#include "ddr-relay-private.h"

/* Queries one connection may have in flight before we stop reading from it. */
#define MAX_PIPELINE     128
/* Answers queued for a client that does not read: stop reading at the soft
 * limit, drop the client at the hard one. */
#define OUT_SOFT_LIMIT   (128 * 1024)
#define OUT_HARD_LIMIT   (1024 * 1024)
#define IN_INITIAL       2048
#define FRAME_MAX        (2 + DDR_DNS_MAX_MSG)
/* Connections one peer address may hold: an eighth of tcp-max-clients, at least 4,
 * so one device on a forwarder's LAN cannot take every slot. */
#define PER_PEER_MIN     4

struct _DdrTcpListener {
  DdrRelay    *relay;
  GSocket     *socket;
  guint        source_id;
  DdrTcpLimits limits;
  GQueue       conns;
};

typedef struct {
  GSource     source;
  DdrTcpConn *conn;
} DdrTcpSource;

struct _DdrTcpConn {
  DdrTcpListener *listener;    /* NULL once closed */
  GList           link;        /* in listener->conns */
  int             fd;
  GSource        *source;
  gpointer        fd_tag;
  GIOCondition    events;
  DdrSockaddr     peer;
  socklen_t       peer_len;
  guint8         *in;
  gsize           in_len, in_cap;
  GByteArray     *out;
  gsize           out_pos;
  guint           pending;     /* queries handed to the relay, not yet answered */
  gboolean        read_closed; /* the client half-closed: answer what is pending, then close */
  gboolean        processing;  /* inside conn_process_frames (answers may come synchronously) */
  gint64          deadline;    /* monotonic µs */
};

static void     conn_close          (DdrTcpConn *conn, const char *why);
static gboolean conn_process_frames (DdrTcpConn *conn);

static void
conn_touch (DdrTcpConn *conn)
{
  /* Read by conn_prepare(): g_source_set_ready_time would cost an eventfd
   * write (a syscall) on every query. */
  conn->deadline = g_source_get_time (conn->source) +
                   (gint64) conn->listener->limits.idle_timeout_ms * 1000;
}

static void
conn_update_events (DdrTcpConn *conn)
{
  GIOCondition want = 0;

  if (!conn->listener)
    return;
  if (!conn->read_closed && conn->pending < MAX_PIPELINE &&
      conn->out->len - conn->out_pos < OUT_SOFT_LIMIT)
    want |= G_IO_IN;
  if (conn->out_pos < conn->out->len)
    want |= G_IO_OUT;
  if (want != conn->events)
    {
      g_source_modify_unix_fd (conn->source, conn->fd_tag, want);
      conn->events = want;
    }
}

/* Returns FALSE if the connection was closed. */
static gboolean
conn_flush (DdrTcpConn *conn)
{
  while (conn->out_pos < conn->out->len)
    {
      ssize_t n = send (conn->fd, conn->out->data + conn->out_pos,
                        conn->out->len - conn->out_pos, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0)
        {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            break;
          conn_close (conn, g_strerror (errno));
          return FALSE;
        }
      conn->out_pos += (gsize) n;
      conn_touch (conn);
    }
  if (conn->out_pos == conn->out->len)
    {
      g_byte_array_set_size (conn->out, 0);
      conn->out_pos = 0;
    }
  else if (conn->out_pos > conn->out->len / 2)
    {
      g_byte_array_remove_range (conn->out, 0, (guint) conn->out_pos);
      conn->out_pos = 0;
    }
  return TRUE;
}

void
ddr_tcp_conn_reply (DdrTcpConn *conn, const guint8 *msg, gsize len)
{
  guint8 prefix[2];

  conn->pending--;
  if (!conn->listener)
    return;
  if (msg)
    {
      if (conn->out->len - conn->out_pos + len > OUT_HARD_LIMIT)
        {
          conn_close (conn, "client does not read its answers");
          return;
        }
      ddr_dns_put16 (prefix, (guint16) len);
      g_byte_array_append (conn->out, prefix, 2);
      g_byte_array_append (conn->out, msg, (guint) len);
      if (!conn_flush (conn))
        return;
    }
  if (conn->read_closed && conn->pending == 0 && conn->out_pos == conn->out->len)
    {
      conn_close (conn, NULL);
      return;
    }
  /* Frames left waiting while the pipeline was full can go now. */
  if (!conn->processing && conn->pending < MAX_PIPELINE && conn->in_len >= 2 &&
      !conn_process_frames (conn))
    return;
  conn_update_events (conn);
}

/* Hand every complete frame in the input buffer to the relay. FALSE if closed. */
static gboolean
conn_process_frames (DdrTcpConn *conn)
{
  gsize pos = 0;

  conn->processing = TRUE;
  while (conn->listener && conn->pending < MAX_PIPELINE && conn->in_len - pos >= 2)
    {
      gsize flen = ddr_dns_get16 (conn->in + pos);
      DdrOrigin origin = { 0 };

      if (flen < DDR_DNS_HEADER_LEN)
        {
          /* A DNS message cannot be this short, and the stream cannot be
           * resynchronised after a bogus length. */
          ddr_relay_stats_mut (conn->listener->relay)->malformed++;
          conn->processing = FALSE;
          conn_close (conn, "bogus length prefix");
          return FALSE;
        }
      if (conn->in_len - pos < 2 + flen)
        break;

      origin.tcp = ddr_tcp_conn_ref (conn);
      origin.peer = conn->peer;
      origin.peer_len = conn->peer_len;
      conn->pending++;
      conn_touch (conn);
      ddr_relay_handle_query (conn->listener->relay, &origin, conn->in + pos + 2, flen);
      pos += 2 + flen;
    }
  conn->processing = FALSE;

  if (pos > 0)
    {
      memmove (conn->in, conn->in + pos, conn->in_len - pos);
      conn->in_len -= pos;
    }
  /* Shrink a buffer grown for one large query once it is no longer needed. */
  if (conn->in_cap > IN_INITIAL && conn->in_len <= IN_INITIAL)
    {
      conn->in = g_realloc (conn->in, IN_INITIAL);
      conn->in_cap = IN_INITIAL;
    }
  return conn->listener != NULL;
}

static void
conn_read (DdrTcpConn *conn)
{
  for (;;)
    {
      ssize_t n;

      if (conn->in_len == conn->in_cap)
        {
          gsize need = conn->in_len >= 2 ? 2 + ddr_dns_get16 (conn->in) : FRAME_MAX;
          if (need <= conn->in_cap)
            break;   /* a whole frame is buffered; wait for the pipeline to drain */
          conn->in_cap = MIN (MAX (need, conn->in_cap * 2), 2 * FRAME_MAX);
          conn->in = g_realloc (conn->in, conn->in_cap);
        }
      n = recv (conn->fd, conn->in + conn->in_len, conn->in_cap - conn->in_len, MSG_DONTWAIT);
      if (n == 0)
        {
          /* Half-close: the client sent all it will. Finish its queries first. */
          if (!conn_process_frames (conn))
            return;
          conn->read_closed = TRUE;
          if (conn->pending == 0 && conn->out_pos == conn->out->len)
            conn_close (conn, NULL);
          else
            conn_update_events (conn);
          return;
        }
      if (n < 0)
        {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            break;
          conn_close (conn, g_strerror (errno));
          return;
        }
      conn->in_len += (gsize) n;
      if (!conn_process_frames (conn))
        return;
      if (conn->pending >= MAX_PIPELINE)
        break;
    }
  conn_update_events (conn);
}

static gboolean
conn_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  DdrTcpConn *conn = ((DdrTcpSource *) source)->conn;
  GIOCondition revents = g_source_query_unix_fd (source, conn->fd_tag);

  ddr_tcp_conn_ref (conn);
  if (revents & (G_IO_ERR | G_IO_HUP) && !(revents & G_IO_IN))
    conn_close (conn, NULL);
  if (conn->listener && (revents & G_IO_OUT) && conn_flush (conn))
    {
      if (conn->read_closed && conn->pending == 0 && conn->out_pos == conn->out->len)
        conn_close (conn, NULL);
      else
        conn_update_events (conn);
    }
  if (conn->listener && (revents & G_IO_IN))
    conn_read (conn);
  if (conn->listener && g_source_get_time (source) >= conn->deadline)
    {
      /* Waiting on our own upstream is not the client's fault: the query
       * timeout bounds that. Anything else past the deadline is idle,
       * slow (a partial frame) or not reading. */
      if (conn->pending > 0 && conn->out_pos == conn->out->len)
        conn_touch (conn);
      else
        {
          ddr_relay_stats_mut (conn->listener->relay)->tcp_timeouts++;
          conn_close (conn, conn->in_len ? "incomplete query timed out" : NULL);
        }
    }
  ddr_tcp_conn_unref (conn);
  return G_SOURCE_CONTINUE;
}

static gboolean
conn_prepare (GSource *source, gint *timeout)
{
  DdrTcpConn *conn = ((DdrTcpSource *) source)->conn;
  gint64 left = conn->deadline - g_source_get_time (source);

  *timeout = left <= 0 ? 0 : (gint) MIN ((left + 999) / 1000, G_MAXINT);
  return left <= 0;
}

static gboolean
conn_check (GSource *source)
{
  DdrTcpConn *conn = ((DdrTcpSource *) source)->conn;

  return g_source_get_time (source) >= conn->deadline;
}

static GSourceFuncs conn_source_funcs = { conn_prepare, conn_check, conn_dispatch, NULL, NULL, NULL };

static void
conn_close (DdrTcpConn *conn, const char *why)
{
  DdrTcpListener *listener = conn->listener;

  if (!listener)
    return;
  if (why)
    g_debug ("closing TCP client: %s", why);
  conn->listener = NULL;
  g_queue_unlink (&listener->conns, &conn->link);
  g_source_destroy (conn->source);
  g_clear_pointer (&conn->source, g_source_unref);
  close (conn->fd);
  conn->fd = -1;
  ddr_tcp_conn_unref (conn);   /* the listener's reference */
}

static void
conn_clear (gpointer data)
{
  DdrTcpConn *conn = data;

  g_free (conn->in);
  g_byte_array_unref (conn->out);
}

DdrTcpConn *
ddr_tcp_conn_ref (DdrTcpConn *conn)
{
  return g_rc_box_acquire (conn);
}

void
ddr_tcp_conn_unref (DdrTcpConn *conn)
{
  g_rc_box_release_full (conn, conn_clear);
}

static void
conn_new (DdrTcpListener *listener, int fd, const DdrSockaddr *peer, socklen_t peer_len)
{
  DdrTcpConn *conn = g_rc_box_new0 (DdrTcpConn);
  int one = 1;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  conn->listener = listener;
  conn->fd = fd;
  conn->peer = *peer;
  conn->peer_len = peer_len;
  conn->in_cap = IN_INITIAL;
  conn->in = g_malloc (conn->in_cap);
  conn->out = g_byte_array_new ();
  conn->link.data = conn;
  g_queue_push_tail_link (&listener->conns, &conn->link);

  conn->source = g_source_new (&conn_source_funcs, sizeof (DdrTcpSource));
  ((DdrTcpSource *) conn->source)->conn = conn;
  g_source_set_static_name (conn->source, "ddr-tcp-conn");
  conn->events = G_IO_IN;
  conn->fd_tag = g_source_add_unix_fd (conn->source, fd, G_IO_IN);
  g_source_attach (conn->source, NULL);
  conn_touch (conn);
  ddr_relay_stats_mut (listener->relay)->tcp_connections++;
}

static gboolean
same_address (const DdrSockaddr *a, const DdrSockaddr *b)
{
  if (a->sa.sa_family != b->sa.sa_family)
    return FALSE;
  if (a->sa.sa_family == AF_INET)
    return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
  return memcmp (&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof a->in6.sin6_addr) == 0;
}

/* Whether a new connection from peer may take a slot: outside the ACL never (a
 * stranger gets no slot at all), else within the total and the per-peer caps. */
static gboolean
accept_allowed (DdrTcpListener *self, const DdrSockaddr *peer, socklen_t peer_len)
{
  DdrStats *stats = ddr_relay_stats_mut (self->relay);
  guint per_peer = MAX (PER_PEER_MIN, self->limits.max_clients / 8);
  guint same = 0;

  if (!ddr_relay_acl_allows (self->relay, &peer->sa, peer_len))
    {
      stats->refused++;
      return FALSE;
    }
  if (self->conns.length >= self->limits.max_clients)
    {
      stats->tcp_rejected++;
      return FALSE;
    }
  for (GList *l = self->conns.head; l; l = l->next)
    if (same_address (&((DdrTcpConn *) l->data)->peer, peer) && ++same >= per_peer)
      {
        stats->tcp_rejected++;
        return FALSE;
      }
  return TRUE;
}

static gboolean
on_acceptable (gint fd, GIOCondition condition, gpointer user_data)
{
  DdrTcpListener *self = user_data;

  for (int i = 0; i < 64; i++)
    {
      DdrSockaddr peer;
      socklen_t peer_len = sizeof peer;
      int cfd = accept4 (fd, &peer.sa, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (cfd < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
              errno != ECONNABORTED)
            g_debug ("accept: %s", g_strerror (errno));
          break;
        }
      if (!accept_allowed (self, &peer, peer_len))
        {
          close (cfd);
          continue;
        }
      conn_new (self, cfd, &peer, peer_len);
    }
  return G_SOURCE_CONTINUE;
}

DdrTcpListener *
ddr_tcp_listener_new (DdrRelay *relay, GInetSocketAddress *address,
                      const DdrTcpLimits *limits, GError **error)
{
  GInetAddress *ip = g_inet_socket_address_get_address (address);
  GSocketFamily family = g_inet_address_get_family (ip);
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  DdrTcpListener *self;

  socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &local_error);
  if (socket && family == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 1, NULL);
  if (socket)
    g_socket_set_listen_backlog (socket, 128);
  if (!socket ||
      !g_socket_bind (socket, G_SOCKET_ADDRESS (address), TRUE, &local_error) ||
      !g_socket_listen (socket, &local_error))
    {
      g_set_error (error, G_IO_ERROR, local_error->code,
                   "cannot listen on TCP %s: %s", text, ddr_listen_error_reason (local_error));
      return NULL;
    }

  self = g_new0 (DdrTcpListener, 1);
  self->relay = relay;
  self->socket = g_steal_pointer (&socket);
  self->limits = *limits;
  g_queue_init (&self->conns);
  self->source_id = g_unix_fd_add (g_socket_get_fd (self->socket), G_IO_IN, on_acceptable, self);
  return self;
}

void
ddr_tcp_listener_set_limits (DdrTcpListener *self, const DdrTcpLimits *limits)
{
  self->limits = *limits;
}

void
ddr_tcp_listener_free (DdrTcpListener *self)
{
  if (!self)
    return;
  g_clear_handle_id (&self->source_id, g_source_remove);
  while (self->conns.head)
    conn_close (self->conns.head->data, NULL);
  g_socket_close (self->socket, NULL);
  g_clear_object (&self->socket);
  g_free (self);
}
