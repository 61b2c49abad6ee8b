/* Watch one network link for its deletion (rtnetlink RTM_DELLINK): "ip link del ddr0"
 * takes a resolved link's DNS settings with it, and resolved announces nothing. */
#define G_LOG_DOMAIN "ddr-steer"

#include <errno.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <glib-unix.h>

#include "ddr-steer-private.h"

typedef struct {
  int fd;
  int ifindex;
  GSourceFunc gone;
  gpointer user_data;
} LinkWatch;

static void
link_watch_free (gpointer data)
{
  LinkWatch *w = data;

  close (w->fd);
  g_free (w);
}

/* Kernel messages, but still read with their lengths checked (NLMSG_OK). */
static gboolean
readable (int fd, GIOCondition condition, gpointer user_data)
{
  LinkWatch *w = user_data;
  guint8 buf[8192] __attribute__ ((aligned (4)));
  ssize_t n;

  while ((n = recv (fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
    {
      for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK (h, (size_t) n);
           h = NLMSG_NEXT (h, n))
        {
          const struct ifinfomsg *ifi = NLMSG_DATA (h);

          if (h->nlmsg_type == RTM_DELLINK && h->nlmsg_len >= NLMSG_LENGTH (sizeof *ifi) &&
              ifi->ifi_index == w->ifindex)
            {
              w->gone (w->user_data);
              return G_SOURCE_REMOVE;
            }
        }
    }
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR && errno != ENOBUFS))
    {
      g_warning ("the watch on link %d stopped: %s", w->ifindex,
                 n == 0 ? "end of file" : g_strerror (errno));
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

guint
ddr_steer_link_watch (int ifindex, GSourceFunc gone, gpointer user_data)
{
  struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
  LinkWatch *w;
  int fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

  if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      g_warning ("Cannot watch link %d for its deletion: %s", ifindex, g_strerror (errno));
      if (fd >= 0)
        close (fd);
      return 0;
    }
  w = g_new (LinkWatch, 1);
  w->fd = fd;
  w->ifindex = ifindex;
  w->gone = gone;
  w->user_data = user_data;
  return g_unix_fd_add_full (G_PRIORITY_DEFAULT, fd, G_IO_IN, readable, w, link_watch_free);
}
