/* The split DNS table: longest suffix wins, case folding, single-label names, the root refused. */
#include <glib.h>
#include <string.h>

#include "ddr-dns-route.h"
#include "ddr-dns-wire.h"

static gint
lookup (const DdrDnsRoutes *routes, const char *name)
{
  guint8 wire[DDR_DNS_MAX_NAME];
  gsize len = 0;

  g_assert_true (ddr_dns_name_from_string (name, wire, &len));
  /* Queries arrive folded to lower case (DdrDnsInfo.qname). */
  for (gsize i = 0; i < len; i++)
    wire[i] = (guint8) g_ascii_tolower (wire[i]);
  return ddr_dns_routes_lookup (routes, wire, len);
}

static void
add_ok (DdrDnsRoutes *routes, const char *domain, guint value)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ddr_dns_routes_add (routes, domain, value, &error));
  g_assert_no_error (error);
}

static void
test_longest_suffix (void)
{
  g_autoptr(DdrDnsRoutes) routes = ddr_dns_routes_new ();

  add_ok (routes, "example.com", 1);
  add_ok (routes, "Corp.Example.COM.", 2);   /* case and trailing dot do not matter */
  add_ok (routes, "com", 3);                 /* the relay allows it; policy is the controller's */
  add_ok (routes, "168.192.in-addr.arpa", 4);
  g_assert_cmpuint (ddr_dns_routes_size (routes), ==, 4);

  g_assert_cmpint (lookup (routes, "example.com"), ==, 1);
  g_assert_cmpint (lookup (routes, "www.example.com"), ==, 1);
  g_assert_cmpint (lookup (routes, "corp.example.com"), ==, 2);
  g_assert_cmpint (lookup (routes, "WWW.CORP.example.com"), ==, 2);
  g_assert_cmpint (lookup (routes, "xcorp.example.com"), ==, 1);     /* label boundary */
  g_assert_cmpint (lookup (routes, "badexample.com"), ==, 3);
  g_assert_cmpint (lookup (routes, "com"), ==, 3);
  g_assert_cmpint (lookup (routes, "example.org"), ==, -1);
  g_assert_cmpint (lookup (routes, "1.1.168.192.in-addr.arpa"), ==, 4);
  g_assert_cmpint (lookup (routes, "1.1.169.192.in-addr.arpa"), ==, -1);
  g_assert_cmpint (lookup (routes, "."), ==, -1);
  /* no "" route: single labels go to the service */
  g_assert_cmpint (lookup (routes, "printer"), ==, -1);
}

static void
test_order_independent (void)
{
  g_autoptr(DdrDnsRoutes) a = ddr_dns_routes_new ();
  g_autoptr(DdrDnsRoutes) b = ddr_dns_routes_new ();

  add_ok (a, "a.b.c", 1);
  add_ok (a, "c", 2);
  add_ok (a, "b.c", 3);
  add_ok (b, "c", 2);
  add_ok (b, "b.c", 3);
  add_ok (b, "a.b.c", 1);
  g_assert_cmpint (lookup (a, "x.a.b.c"), ==, 1);
  g_assert_cmpint (lookup (b, "x.a.b.c"), ==, 1);
  g_assert_cmpint (lookup (a, "x.b.c"), ==, 3);
  g_assert_cmpint (lookup (b, "x.b.c"), ==, 3);
  g_assert_cmpint (lookup (b, "x.c"), ==, 2);
  /* same wire length, different names: no mix-up */
  add_ok (b, "zz", 7);
  g_assert_cmpint (lookup (b, "x.zz"), ==, 7);
  g_assert_cmpint (lookup (b, "x.yy"), ==, -1);
}

static void
test_single_label (void)
{
  g_autoptr(DdrDnsRoutes) routes = ddr_dns_routes_new ();
  g_autoptr(GError) error = NULL;

  add_ok (routes, "", 5);
  add_ok (routes, "lan", 6);
  g_assert_cmpint (lookup (routes, "printer"), ==, 5);
  g_assert_cmpint (lookup (routes, "PRINTER."), ==, 5);
  g_assert_cmpint (lookup (routes, "lan"), ==, 6);            /* the domain is longer than "" */
  g_assert_cmpint (lookup (routes, "nas.lan"), ==, 6);
  g_assert_cmpint (lookup (routes, "printer.example"), ==, -1);
  g_assert_cmpint (lookup (routes, "."), ==, -1);
  g_assert_false (ddr_dns_routes_add (routes, "", 9, &error));
  g_assert_error (error, DDR_DNS_ROUTE_ERROR, 0);
}

static void
test_refused (void)
{
  g_autoptr(DdrDnsRoutes) routes = ddr_dns_routes_new ();
  {
    g_autoptr(GError) error = NULL;
    g_assert_false (ddr_dns_routes_add (routes, ".", 1, &error));
    g_assert_error (error, DDR_DNS_ROUTE_ERROR, 0);
    g_assert_nonnull (strstr (error->message, "root"));
  }
  {
    g_autoptr(GError) error = NULL;
    g_assert_false (ddr_dns_routes_add (routes, "bad..name", 1, &error));
    g_assert_nonnull (strstr (error->message, "\"bad..name\""));
  }
  {
    g_autoptr(GError) error = NULL;
    add_ok (routes, "a.", 1);
    g_assert_false (ddr_dns_routes_add (routes, "A", 2, &error));
    g_assert_nonnull (strstr (error->message, "twice"));
  }
  g_assert_cmpuint (ddr_dns_routes_size (routes), ==, 1);
  /* the root never matched anything, and nothing else leaked in */
  g_assert_cmpint (lookup (routes, "example.com"), ==, -1);
  g_assert_cmpint (lookup (routes, "x.a"), ==, 1);
}

/* A portal's host (issue 10.3): that one name only, never what is under it. A
 * redirect to "com" must not take every .com name to the network. */
static void
test_exact (void)
{
  g_autoptr(DdrDnsRoutes) routes = ddr_dns_routes_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (ddr_dns_routes_add_exact (routes, "Login.Portal.Test.", 1, &error));
  g_assert_no_error (error);
  g_assert_true (ddr_dns_routes_add_exact (routes, "com", 2, &error));
  add_ok (routes, "test", 3);
  g_assert_cmpint (lookup (routes, "login.portal.test"), ==, 1);
  g_assert_cmpint (lookup (routes, "x.login.portal.test"), ==, 3);
  g_assert_cmpint (lookup (routes, "portal.test"), ==, 3);
  g_assert_cmpint (lookup (routes, "com"), ==, 2);
  g_assert_cmpint (lookup (routes, "example.com"), ==, -1);
  g_assert_false (ddr_dns_routes_add_exact (routes, "login.portal.test", 4, &error));
  g_assert_nonnull (strstr (error->message, "twice"));
  g_clear_error (&error);
  g_assert_false (ddr_dns_routes_add_exact (routes, ".", 4, &error));
  g_clear_error (&error);
  g_assert_false (ddr_dns_routes_add_exact (routes, "", 4, &error));
  g_assert_cmpuint (ddr_dns_routes_size (routes), ==, 3);
}

static gboolean
proxy_discovery (const char *name)
{
  guint8 wire[DDR_DNS_MAX_NAME];
  gsize len = 0;

  g_assert_true (ddr_dns_name_from_string (name, wire, &len));
  for (gsize i = 0; i < len; i++)
    wire[i] = (guint8) g_ascii_tolower (wire[i]);
  return ddr_dns_name_is_proxy_discovery (wire, len);
}

/* Issue 12.10: WPAD and ISATAP names, any label position, single-label included. */
static void
test_proxy_discovery (void)
{
  static const char *const yes[] = {
    "wpad", "WPAD.", "isatap", "wpad.lan", "wpad.home.arpa", "wpad.corp.example",
    "isatap.hotel.example", "x.wpad.lan", "a.b.ISATAP", "wpad.wpad",
  };
  static const char *const no[] = {
    "wpadx", "mywpad.lan", "wpad-proxy.lan", "isatapx.example", "example.com", "printer",
    "w.pad", "lan",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (yes); i++)
    if (!proxy_discovery (yes[i]))
      g_error ("\"%s\" not recognised as proxy discovery", yes[i]);
  for (gsize i = 0; i < G_N_ELEMENTS (no); i++)
    if (proxy_discovery (no[i]))
      g_error ("\"%s\" taken for proxy discovery", no[i]);
  g_assert_false (ddr_dns_name_is_proxy_discovery ((const guint8 *) "", 1));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dns-route/longest-suffix", test_longest_suffix);
  g_test_add_func ("/dns-route/order-independent", test_order_independent);
  g_test_add_func ("/dns-route/single-label", test_single_label);
  g_test_add_func ("/dns-route/refused", test_refused);
  g_test_add_func ("/dns-route/exact", test_exact);
  g_test_add_func ("/dns-route/proxy-discovery", test_proxy_discovery);
  return g_test_run ();
}
