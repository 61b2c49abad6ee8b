/* UDP listener: receives datagrams in batches, answers from the address they arrived on. */
#define G_LOG_DOMAIN "ddr-udp"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <glib-unix.h>

#include "ddr-relay-private.h"

/* Datagrams handled per wake-up before yielding to the rest of the loop. */
#define BATCH 64

struct _DdrUdpListener {
  DdrRelay *relay;
  GSocket  *socket;
  int       fd;
  int       family;
  gboolean  wildcard;     /* bound to 0.0.0.0 / :: — answers need the local address set */
  guint     source_id;
  guint8    buf[DDR_DNS_MAX_MSG + 1];
};

static void
read_local_address (struct msghdr *mh, DdrOrigin *origin)
{
  for (struct cmsghdr *c = CMSG_FIRSTHDR (mh); c; c = CMSG_NXTHDR (mh, c))
    {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
        {
          memcpy (&origin->local.v4, CMSG_DATA (c), sizeof origin->local.v4);
          origin->local_family = AF_INET;
        }
      else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
        {
          memcpy (&origin->local.v6, CMSG_DATA (c), sizeof origin->local.v6);
          origin->local_family = AF_INET6;
        }
    }
}

static gboolean
on_readable (gint fd, GIOCondition condition, gpointer user_data)
{
  DdrUdpListener *self = user_data;

  for (int i = 0; i < BATCH; i++)
    {
      DdrOrigin origin = { 0 };
      union { struct cmsghdr align; char buf[CMSG_SPACE (sizeof (struct in6_pktinfo))]; } control;
      struct iovec iov = { self->buf, sizeof self->buf };
      struct msghdr mh = {
        .msg_name = &origin.peer,
        .msg_namelen = sizeof origin.peer,
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = self->wildcard ? control.buf : NULL,
        .msg_controllen = self->wildcard ? sizeof control.buf : 0,
      };
      ssize_t n = recvmsg (fd, &mh, MSG_DONTWAIT);

      if (n < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            g_debug ("recvmsg: %s", g_strerror (errno));
          break;
        }
      origin.peer_len = mh.msg_namelen;
      if (self->wildcard)
        read_local_address (&mh, &origin);
      origin.udp = ddr_udp_listener_ref (self);
      ddr_relay_handle_query (self->relay, &origin, self->buf, (gsize) n);
    }
  return G_SOURCE_CONTINUE;
}

void
ddr_udp_listener_send (DdrUdpListener *self, const DdrOrigin *origin,
                       const guint8 *msg, gsize len)
{
  union { struct cmsghdr align; char buf[CMSG_SPACE (sizeof (struct in6_pktinfo))]; } control;
  struct iovec iov = { (void *) msg, len };
  struct msghdr mh = {
    .msg_name = (void *) &origin->peer,
    .msg_namelen = origin->peer_len,
    .msg_iov = &iov,
    .msg_iovlen = 1,
  };

  if (self->fd < 0)
    return;
  if (origin->local_family == AF_INET)
    {
      struct in_pktinfo pi = { .ipi_spec_dst = origin->local.v4.ipi_addr };
      struct cmsghdr *c;

      memset (&control, 0, sizeof control);
      mh.msg_control = control.buf;
      mh.msg_controllen = CMSG_SPACE (sizeof pi);
      c = CMSG_FIRSTHDR (&mh);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN (sizeof pi);
      memcpy (CMSG_DATA (c), &pi, sizeof pi);
    }
  else if (origin->local_family == AF_INET6)
    {
      struct cmsghdr *c;

      memset (&control, 0, sizeof control);
      mh.msg_control = control.buf;
      mh.msg_controllen = CMSG_SPACE (sizeof origin->local.v6);
      c = CMSG_FIRSTHDR (&mh);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN (sizeof origin->local.v6);
      memcpy (CMSG_DATA (c), &origin->local.v6, sizeof origin->local.v6);
    }

  /* UDP has no back-pressure: a full socket buffer loses the answer and the
   * client retries, exactly as if the network had dropped it. */
  if (sendmsg (self->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
    g_debug ("sendmsg: %s", g_strerror (errno));
}

static gboolean
enable_pktinfo (DdrUdpListener *self, GError **error)
{
  if (self->family == AF_INET)
    return g_socket_set_option (self->socket, IPPROTO_IP, IP_PKTINFO, 1, error);
  return g_socket_set_option (self->socket, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, error);
}

DdrUdpListener *
ddr_udp_listener_new (DdrRelay *relay, GInetSocketAddress *address, GError **error)
{
  GInetAddress *ip = g_inet_socket_address_get_address (address);
  GSocketFamily family = g_inet_address_get_family (ip);
  g_autoptr(GSocket) socket = NULL;
  g_autofree char *text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  g_autoptr(GError) local_error = NULL;
  DdrUdpListener *self;

  socket = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &local_error);
  if (socket && family == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 1, NULL);
  /* No SO_REUSEPORT for UDP: a second daemon must fail to bind, not share the port. */
  if (!socket || !g_socket_bind (socket, G_SOCKET_ADDRESS (address), FALSE, &local_error))
    {
      g_set_error (error, G_IO_ERROR, local_error->code,
                   "cannot listen on UDP %s: %s", text, ddr_listen_error_reason (local_error));
      return NULL;
    }

  self = g_rc_box_new0 (DdrUdpListener);
  self->relay = relay;
  self->socket = g_steal_pointer (&socket);
  self->fd = g_socket_get_fd (self->socket);
  self->family = family == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET;
  self->wildcard = g_inet_address_get_is_any (ip);
  if (self->wildcard && !enable_pktinfo (self, &local_error))
    g_warning ("UDP %s: cannot read the local address of queries: %s", text,
               local_error->message);
  self->source_id = g_unix_fd_add (self->fd, G_IO_IN, on_readable, self);
  return self;
}

void
ddr_udp_listener_close (DdrUdpListener *self)
{
  g_clear_handle_id (&self->source_id, g_source_remove);
  if (self->socket)
    g_socket_close (self->socket, NULL);
  g_clear_object (&self->socket);
  self->fd = -1;
}

static void
udp_listener_clear (gpointer data)
{
  ddr_udp_listener_close (data);
}

DdrUdpListener *
ddr_udp_listener_ref (DdrUdpListener *self)
{
  return g_rc_box_acquire (self);
}

void
ddr_udp_listener_unref (DdrUdpListener *self)
{
  g_rc_box_release_full (self, udp_listener_clear);
}
