/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET; the watchdog's pets. */
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

static gboolean
on_watchdog (gpointer user_data)
{
  ddr_sd_notify ("WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

guint
ddr_sd_watchdog_start (void)
{
  const char *usec_text = g_getenv ("WATCHDOG_USEC");
  const char *pid_text = g_getenv ("WATCHDOG_PID");
  guint64 usec = 0, pid = 0;

  if (!usec_text || !g_ascii_string_to_unsigned (usec_text, 10, 1, G_MAXUINT64, &usec, NULL))
    return 0;
  /* sd_watchdog_enabled(3): a WATCHDOG_PID of another process means not us. */
  if (pid_text && (!g_ascii_string_to_unsigned (pid_text, 10, 1, G_MAXUINT64, &pid, NULL) ||
                   pid != (guint64) getpid ()))
    return 0;
  g_info ("watchdog: every %" G_GUINT64_FORMAT " ms", usec / 2000);
  ddr_sd_notify ("WATCHDOG=1");
  return g_timeout_add ((guint) MAX (1, MIN (usec / 2000, G_MAXUINT)), on_watchdog, NULL);
}
