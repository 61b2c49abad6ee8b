/* The resolved backend's own link ddr0 (a dummy, or a veth pair where the kernel has no
 * dummy): the ip commands that make it, how it is recognised, and its deletion. */
#define G_LOG_DOMAIN "ddr-steer"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ddr-steer-private.h"

const char *
ddr_steer_ip_binary (void)
{
  static const char *const candidates[] = { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", NULL };

  for (guint i = 0; candidates[i]; i++)
    if (g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
      return candidates[i];
  return "ip";
}

gboolean
ddr_steer_link_has_our_address (void)
{
  struct ifaddrs *all = NULL;
  struct in_addr ours;
  gboolean found = FALSE;

  inet_pton (AF_INET, DDR_STEER_ADDRESS, &ours);
  if (getifaddrs (&all) < 0)
    return FALSE;
  for (struct ifaddrs *a = all; a && !found; a = a->ifa_next)
    found = a->ifa_addr && a->ifa_addr->sa_family == AF_INET
            && g_strcmp0 (a->ifa_name, DDR_STEER_IFACE) == 0
            && ((struct sockaddr_in *) a->ifa_addr)->sin_addr.s_addr == ours.s_addr;
  freeifaddrs (all);
  return found;
}

char *
ddr_steer_link_script (DdrSteerLinkType link)
{
  const char *iface = DDR_STEER_IFACE;

  if (link == DDR_STEER_LINK_VETH)
    return g_strdup_printf ("link add %s type veth peer name %s\n"
                            "addr add %s/32 dev %s\n"
                            "link set %s up\nlink set %s up\n",
                            iface, DDR_STEER_VETH_PEER, DDR_STEER_ADDRESS, iface,
                            DDR_STEER_VETH_PEER, iface);
  return g_strdup_printf ("link add %s type dummy\naddr add %s/32 dev %s\nlink set %s up\n",
                          iface, DDR_STEER_ADDRESS, iface, iface);
}

gboolean
ddr_steer_link_delete (GError **error)
{
  g_autofree char *err = NULL;
  int status = 0;
  const char *argv[] = { ddr_steer_ip_binary (), "link", "del", DDR_STEER_IFACE, NULL };

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                     &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      if (if_nametoindex (DDR_STEER_IFACE) == 0)
        return TRUE;   /* gone meanwhile (NM removes its own links): what we wanted */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "ip link del %s: %s", DDR_STEER_IFACE,
                   g_strstrip (err));
      return FALSE;
    }
  return TRUE;
}
