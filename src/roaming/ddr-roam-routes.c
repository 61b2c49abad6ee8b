/* Split DNS: which names the relay sends to the network's own servers instead of the service. */
#include "config.h"

#include <string.h>

#include "ddr-roam-routes.h"

/* Names that only the local network can answer: RFC 8375, common private
 * suffixes, and the reverse zones of RFC 1918, link-local and fc00::/7. */
static const char *const local_zones[] = {
  "", "home.arpa", "lan", "internal", "local",
  "10.in-addr.arpa", "168.192.in-addr.arpa", "254.169.in-addr.arpa",
  "c.f.ip6.arpa", "d.f.ip6.arpa",
  "8.e.f.ip6.arpa", "9.e.f.ip6.arpa", "a.e.f.ip6.arpa", "b.e.f.ip6.arpa",
};

void
ddr_roam_route_free (DdrRoamRoute *route)
{
  g_free (route->domain);
  g_strfreev (route->servers);
  g_free (route);
}

/* "~Corp.Example." -> "corp.example"; NULL for the root or garbage. */
static char *
normalize (const char *domain)
{
  g_autofree char *d = NULL;
  gsize len;

  if (!domain)
    return NULL;
  while (*domain == '~')
    domain++;
  d = g_ascii_strdown (domain, -1);
  len = strlen (d);
  while (len > 0 && d[len - 1] == '.')
    d[--len] = '\0';
  if (len == 0 || d[0] == '.' || strstr (d, "..") || len > 253)
    return NULL;
  return g_steal_pointer (&d);
}

static gboolean
has_domain (GPtrArray *routes, const char *domain)
{
  for (guint i = 0; i < routes->len; i++)
    if (g_str_equal (((DdrRoamRoute *) routes->pdata[i])->domain, domain))
      return TRUE;
  return FALSE;
}

/* The first route for a domain wins: VPN routes are added first. */
static DdrRoamRoute *
add (GPtrArray *routes, const char *domain, char *const *servers, gboolean untrusted)
{
  DdrRoamRoute *r;

  if (!servers || !servers[0] || has_domain (routes, domain))
    return NULL;
  r = g_new0 (DdrRoamRoute, 1);
  r->domain = g_strdup (domain);
  r->servers = g_strdupv ((char **) servers);
  r->untrusted = untrusted;
  g_ptr_array_add (routes, r);
  return r;
}

static void
add_list (GPtrArray *routes, const char *const *domains, char *const *servers,
          gboolean untrusted)
{
  for (guint i = 0; domains && domains[i]; i++)
    {
      g_autofree char *d = normalize (domains[i]);
      if (d)
        add (routes, d, servers, untrusted);
    }
}

GPtrArray *
ddr_roam_routes_build (const DdrNetSnapshot *snap, const char *const *local_domains,
                       const char *const *extra_hosts, const char *portal_host,
                       gboolean trusted)
{
  GPtrArray *routes = g_ptr_array_new_with_free_func ((GDestroyNotify) ddr_roam_route_free);
  g_autofree char *portal = normalize (portal_host);
  char *const *servers;

  if (!snap)
    return routes;
  for (guint i = 0; snap->vpns && i < snap->vpns->len; i++)
    {
      const DdrNetConnection *vpn = snap->vpns->pdata[i];
      add_list (routes, (const char *const *) vpn->domains, vpn->servers, FALSE);
    }
  if (!snap->have_primary)
    return routes;
  servers = snap->primary.servers;
  for (guint i = 0; i < G_N_ELEMENTS (local_zones); i++)
    add (routes, local_zones[i], servers, !trusted);
  for (guint i = 16; i < 32; i++)
    {
      g_autofree char *zone = g_strdup_printf ("%u.172.in-addr.arpa", i);
      add (routes, zone, servers, !trusted);
    }
  add_list (routes, local_domains, servers, !trusted);
  add_list (routes, extra_hosts, servers, !trusted);
  /* The network chose this name (it could be "com"): exactly it, nothing under
   * it; an address needs no name lookup at all. */
  if (portal && !g_hostname_is_ip_address (portal))
    {
      DdrRoamRoute *r = add (routes, portal, servers, !trusted);
      if (r)
        r->exact = TRUE;
    }
  if (trusted)
    add_list (routes, (const char *const *) snap->primary.domains, servers, FALSE);
  return routes;
}
