/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
#define G_LOG_DOMAIN "ddr-daemon"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ddr-sd-notify.h"

void
ddr_sd_notify (const char *state)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  socklen_t len;
  int fd;

  if (!path || !*path || strlen (path) >= sizeof sa.sun_path)
    return;
  if (path[0] != '/' && path[0] != '@')
    return;
  memcpy (sa.sun_path, path, strlen (path));
  if (path[0] == '@')
    sa.sun_path[0] = '\0';   /* abstract namespace */
  len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + strlen (path));

  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  if (sendto (fd, state, strlen (state), MSG_NOSIGNAL, (struct sockaddr *) &sa, len) < 0)
    g_debug ("sd_notify: %s", g_strerror (errno));
  close (fd);
}
