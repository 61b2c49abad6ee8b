/* install: is a listen address already taken, and by which process (/proc/net, /proc/PID/fd)? */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <string.h>
#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ddr-admin-check.h"
#include "ddr-admin-port.h"

/* /proc/net/{udp,tcp}: the states that hold a port (TCP_LISTEN, UDP's unconnected
 * TCP_CLOSE). */
#define TCP_LISTEN "0A"
#define UDP_BOUND  "07"

/* "0100007F:0035" or the 32-digit IPv6 form: the kernel prints each 32-bit word in
 * host byte order. */
static GInetAddress *
parse_address (const char *hex, guint16 *port)
{
  const char *colon = strchr (hex, ':');
  guint8 bytes[16];
  gsize words = colon ? (gsize) (colon - hex) / 8 : 0;
  guint64 p;

  if (!colon || (words != 1 && words != 4) || (gsize) (colon - hex) != words * 8
      || !g_ascii_string_to_unsigned (colon + 1, 16, 0, 65535, &p, NULL))
    return NULL;
  for (gsize i = 0; i < words; i++)
    {
      g_autofree char *w = g_strndup (hex + i * 8, 8);
      guint64 v;
      guint32 word;

      if (!g_ascii_string_to_unsigned (w, 16, 0, G_MAXUINT32, &v, NULL))
        return NULL;
      word = (guint32) v;
      memcpy (bytes + i * 4, &word, 4);
    }
  *port = (guint16) p;
  return g_inet_address_new_from_bytes (bytes, words == 1 ? G_SOCKET_FAMILY_IPV4
                                                          : G_SOCKET_FAMILY_IPV6);
}

/* Would binding want:port fail because of a socket bound to have:port? Same address,
 * or either side the wildcard of the same family. */
static gboolean
conflicts (GInetAddress *want, GInetAddress *have)
{
  if (g_inet_address_get_family (want) != g_inet_address_get_family (have))
    return FALSE;
  return g_inet_address_equal (want, have) || g_inet_address_get_is_any (want)
         || g_inet_address_get_is_any (have);
}

/* The inode of a socket in table (e.g. "/proc/net/udp") that holds want:port, or 0. */
static guint64
find_inode (const char *table, const char *state, GInetAddress *want, guint16 port)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (table, &text, NULL, NULL))
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i]; i++)
    {
      g_auto(GStrv) f = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      g_auto(GStrv) cols = NULL;
      g_autoptr(GInetAddress) have = NULL;
      guint16 have_port = 0;
      guint64 inode;

      for (guint j = 0; f[j]; j++)
        if (*f[j])
          g_strv_builder_add (b, f[j]);
      cols = g_strv_builder_end (b);
      /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
      if (g_strv_length (cols) < 10 || !g_str_equal (cols[3], state))
        continue;
      have = parse_address (cols[1], &have_port);
      if (have && have_port == port && conflicts (want, have)
          && g_ascii_string_to_unsigned (cols[9], 10, 1, G_MAXUINT64, &inode, NULL))
        return inode;
    }
  return 0;
}

/* "NAME (pid N)" of a process with the socket open, or NULL (another user's process
 * under hidepid, or it just went away). */
static char *
holder_of (guint64 inode)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  g_autofree char *want = g_strdup_printf ("socket:[%" G_GUINT64_FORMAT "]", inode);
  const char *pid;

  while (proc && (pid = g_dir_read_name (proc)))
    {
      g_autofree char *fd_dir = NULL;
      g_autoptr(GDir) fds = NULL;
      const char *fd;

      if (!g_ascii_isdigit (pid[0]))
        continue;
      fd_dir = g_build_filename ("/proc", pid, "fd", NULL);
      fds = g_dir_open (fd_dir, 0, NULL);
      while (fds && (fd = g_dir_read_name (fds)))
        {
          g_autofree char *path = g_build_filename (fd_dir, fd, NULL);
          g_autofree char *target = g_file_read_link (path, NULL);

          if (g_strcmp0 (target, want) == 0)
            {
              g_autofree char *comm_path = g_build_filename ("/proc", pid, "comm", NULL);
              g_autofree char *comm = NULL;

              if (!g_file_get_contents (comm_path, &comm, NULL, NULL))
                comm = g_strdup ("?");
              return g_strdup_printf ("%s (pid %s)", g_strstrip (comm), pid);
            }
        }
    }
  return NULL;
}

/* The address of "127.0.0.1:53", "0.0.0.0", "[::1]:53" or "::1". */
static GInetAddress *
listen_address (const char *listen)
{
  g_autofree char *bare = NULL;
  const char *colon = strchr (listen, ':');

  if (listen[0] == '[')
    bare = g_strndup (listen + 1, strcspn (listen + 1, "]"));
  else if (colon && !strchr (colon + 1, ':'))
    bare = g_strndup (listen, colon - listen);
  else
    bare = g_strdup (listen);
  return g_inet_address_new_from_string (bare);
}

gboolean
ddr_admin_port_check (char **listen, const char *const *ours, GError **error)
{
  static const struct { const char *table; const char *state; const char *proto; } tables[] = {
    { "/proc/net/udp", UDP_BOUND, "UDP" }, { "/proc/net/udp6", UDP_BOUND, "UDP" },
    { "/proc/net/tcp", TCP_LISTEN, "TCP" }, { "/proc/net/tcp6", TCP_LISTEN, "TCP" },
  };

  for (guint i = 0; listen && listen[i]; i++)
    {
      g_autofree char *host = NULL;
      g_autoptr(GInetAddress) want = NULL;
      guint16 port = 0;

      /* validated already; the port from the shared parser, the address as written
       * (it turns a wildcard into loopback) */
      if (!ddr_admin_check_target (listen[i], &host, &port))
        continue;
      want = listen_address (listen[i]);
      if (!want)
        continue;
      for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
        {
          guint64 inode = find_inode (tables[t].table, tables[t].state, want, port);
          g_autofree char *holder = NULL;
          g_autofree char *text = NULL;
          gboolean mine = FALSE;

          if (!inode)
            continue;
          holder = holder_of (inode);
          /* our own daemon (a re-install restarts it), or what install deals with itself */
          for (guint k = 0; holder && ours && ours[k]; k++)
            mine = mine || g_str_has_prefix (holder, ours[k]);
          if (mine)
            continue;
          text = g_inet_address_to_string (want);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                       /* TRANSLATORS: "127.0.0.1 port 53 (UDP) is already in use by
                        * unbound (pid 123)". */
                       _("%s port %u (%s) is already in use by %s: stop it (and disable "
                         "its service), or install with another --listen address. Nothing "
                         "was changed."), text, port, tables[t].proto,
                       holder ? holder : _("another process"));
          return FALSE;
        }
    }
  return TRUE;
}
