/* Split DNS routes: what goes to the network's own servers, and what never does. */
#include "config.h"

#include "ddr-roam-routes.h"

static char *net_servers[] = { "192.168.1.1", NULL };
static char *vpn_servers[] = { "10.8.0.1", NULL };

static const DdrRoamRoute *
find (GPtrArray *routes, const char *domain)
{
  for (guint i = 0; i < routes->len; i++)
    if (g_str_equal (((DdrRoamRoute *) routes->pdata[i])->domain, domain))
      return routes->pdata[i];
  return NULL;
}

/* domain's route; fails the test when there is none. */
static const DdrRoamRoute *
must_find (GPtrArray *routes, const char *domain)
{
  static const DdrRoamRoute none = { 0 };
  const DdrRoamRoute *r = find (routes, domain);

  if (!r)
    g_error ("no route for \"%s\"", domain);
  return r ? r : &none;
}

/* The first server of domain's route; fails the test when there is none. */
static const char *
server_of (GPtrArray *routes, const char *domain)
{
  const DdrRoamRoute *r = find (routes, domain);

  g_assert_nonnull (r);
  return r ? r->servers[0] : "";
}

static void
snapshot_init (DdrNetSnapshot *s, DdrNetConnection *vpn, GPtrArray *vpns, char **domains)
{
  *s = (DdrNetSnapshot) { .nm_running = TRUE, .have_primary = TRUE };
  s->primary.id = "Hotel";
  s->primary.servers = net_servers;
  s->primary.domains = domains;
  *vpn = (DdrNetConnection) { .id = "Work VPN", .servers = vpn_servers };
  g_ptr_array_add (vpns, vpn);
  s->vpns = vpns;
}

static void
test_hostile_search_domain (void)
{
  char *domains[] = { "com", "~.", "Hotel.Example.", NULL };
  char *vpn_domains[] = { "~corp.example", NULL };
  const char *local[] = { "printers.office", NULL };
  const char *hosts[] = { "connectivity-check.ubuntu.com", NULL };
  g_autoptr(GPtrArray) vpns = g_ptr_array_new ();
  g_autoptr(GPtrArray) routes = NULL;
  DdrNetConnection vpn;
  DdrNetSnapshot s;

  snapshot_init (&s, &vpn, vpns, domains);
  vpn.domains = vpn_domains;
  routes = ddr_roam_routes_build (&s, local, hosts, NULL, FALSE);

  /* An untrusted network's search domains never become routes. */
  g_assert_null (find (routes, "com"));
  g_assert_null (find (routes, "hotel.example"));
  g_assert_null (find (routes, "."));
  g_assert_cmpstr (server_of (routes, "corp.example"), ==, "10.8.0.1");
  g_assert_cmpstr (server_of (routes, ""), ==, "192.168.1.1");
  g_assert_nonnull (find (routes, "home.arpa"));
  g_assert_nonnull (find (routes, "lan"));
  g_assert_nonnull (find (routes, "internal"));
  g_assert_nonnull (find (routes, "168.192.in-addr.arpa"));
  g_assert_nonnull (find (routes, "16.172.in-addr.arpa"));
  g_assert_nonnull (find (routes, "31.172.in-addr.arpa"));
  g_assert_null (find (routes, "32.172.in-addr.arpa"));
  g_assert_nonnull (find (routes, "d.f.ip6.arpa"));
  g_assert_nonnull (find (routes, "printers.office"));
  g_assert_nonnull (find (routes, "connectivity-check.ubuntu.com"));
}

static void
test_trusted_search_domain (void)
{
  char *domains[] = { "hotel.example", "~.", NULL };
  g_autoptr(GPtrArray) vpns = g_ptr_array_new ();
  g_autoptr(GPtrArray) routes = NULL;
  DdrNetConnection vpn;
  DdrNetSnapshot s;

  snapshot_init (&s, &vpn, vpns, domains);
  routes = ddr_roam_routes_build (&s, NULL, NULL, NULL, TRUE);
  g_assert_nonnull (find (routes, "hotel.example"));
  g_assert_null (find (routes, "."));
}

static void
test_vpn_wins_and_no_servers (void)
{
  char *vpn_domains[] = { "lan", NULL };
  g_autoptr(GPtrArray) vpns = g_ptr_array_new ();
  g_autoptr(GPtrArray) routes = NULL;
  g_autoptr(GPtrArray) none = NULL;
  DdrNetConnection vpn;
  DdrNetSnapshot s;

  snapshot_init (&s, &vpn, vpns, NULL);
  vpn.domains = vpn_domains;
  routes = ddr_roam_routes_build (&s, NULL, NULL, NULL, FALSE);
  g_assert_cmpstr (server_of (routes, "lan"), ==, "10.8.0.1");

  /* A network without DNS servers of its own gets no routes at all. */
  s.primary.servers = NULL;
  vpn.servers = NULL;
  none = ddr_roam_routes_build (&s, NULL, NULL, "login.portal.test", TRUE);
  g_assert_cmpuint (none->len, ==, 0);
}

/* Issue 10.3: while a portal is seen, its host (that name only) goes to the
 * network's DNS, so "log in" works while the service keeps the laptop protected;
 * an IP literal or garbage needs no route. */
static void
test_portal_host (void)
{
  const char *hosts[] = { "nmcheck.gnome.org", "portal.test", NULL };
  g_autoptr(GPtrArray) vpns = g_ptr_array_new ();
  g_autoptr(GPtrArray) routes = NULL;
  g_autoptr(GPtrArray) literal = NULL;
  g_autoptr(GPtrArray) none = NULL;
  const DdrRoamRoute *r;
  DdrNetConnection vpn;
  DdrNetSnapshot s;

  snapshot_init (&s, &vpn, vpns, NULL);
  routes = ddr_roam_routes_build (&s, NULL, hosts, "Login.Hotel-Portal.Example.", FALSE);
  r = must_find (routes, "login.hotel-portal.example");
  g_assert_true (r->exact);
  g_assert_true (r->untrusted);
  g_assert_cmpstr (server_of (routes, "login.hotel-portal.example"), ==, "192.168.1.1");
  /* the configured check and probe hosts: routes of their own, as before */
  g_assert_nonnull (find (routes, "nmcheck.gnome.org"));
  g_assert_nonnull (find (routes, "portal.test"));
  g_assert_false (must_find (routes, "portal.test")->exact);

  /* a redirect to "com" is that name only, never every .com name */
  none = ddr_roam_routes_build (&s, NULL, NULL, "com", FALSE);
  g_assert_true (must_find (none, "com")->exact);
  literal = ddr_roam_routes_build (&s, NULL, NULL, "192.168.1.1", FALSE);
  g_assert_null (find (literal, "192.168.1.1"));
}

/* Issue 12.10: routes to an untrusted network's servers say so, so that the relay
 * never sends it wpad/isatap names; a VPN's and a trusted network's do not. */
static void
test_untrusted_marked (void)
{
  char *domains[] = { "hotel.example", NULL };
  char *vpn_domains[] = { "corp.example", NULL };
  g_autoptr(GPtrArray) vpns = g_ptr_array_new ();
  g_autoptr(GPtrArray) hotel = NULL;
  g_autoptr(GPtrArray) home = NULL;
  DdrNetConnection vpn;
  DdrNetSnapshot s;

  snapshot_init (&s, &vpn, vpns, domains);
  vpn.domains = vpn_domains;
  hotel = ddr_roam_routes_build (&s, NULL, NULL, "login.portal.test", FALSE);
  g_assert_true (must_find (hotel, "")->untrusted);
  g_assert_true (must_find (hotel, "lan")->untrusted);
  g_assert_true (must_find (hotel, "login.portal.test")->untrusted);
  g_assert_false (must_find (hotel, "corp.example")->untrusted);
  home = ddr_roam_routes_build (&s, NULL, NULL, NULL, TRUE);
  g_assert_false (must_find (home, "")->untrusted);
  g_assert_false (must_find (home, "hotel.example")->untrusted);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/roam-routes/hostile-search-domain", test_hostile_search_domain);
  g_test_add_func ("/roam-routes/trusted-search-domain", test_trusted_search_domain);
  g_test_add_func ("/roam-routes/vpn-wins-and-no-servers", test_vpn_wins_and_no_servers);
  g_test_add_func ("/roam-routes/portal-host", test_portal_host);
  g_test_add_func ("/roam-routes/untrusted-marked", test_untrusted_marked);
  return g_test_run ();
}
