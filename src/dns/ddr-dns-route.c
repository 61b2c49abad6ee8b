/* Split DNS table: longest-suffix match of a query name against the local routes. */
#define G_LOG_DOMAIN "ddr-dns"

#include "ddr-dns-route.h"
#include "ddr-dns-wire.h"

#include <string.h>

G_DEFINE_QUARK (ddr-dns-route-error-quark, ddr_dns_route_error)

typedef struct {
  guint8  wire[DDR_DNS_MAX_NAME];   /* lower case */
  gsize   len;
  guint   value;
  gboolean exact;                   /* that name only, nothing under it */
} Route;

struct _DdrDnsRoutes {
  GArray  *routes;        /* Route, longest wire form first */
  gboolean has_single;    /* the "" route */
  guint    single_value;
};

DdrDnsRoutes *
ddr_dns_routes_new (void)
{
  DdrDnsRoutes *routes = g_new0 (DdrDnsRoutes, 1);

  routes->routes = g_array_new (FALSE, FALSE, sizeof (Route));
  return routes;
}

void
ddr_dns_routes_free (DdrDnsRoutes *routes)
{
  if (!routes)
    return;
  g_array_unref (routes->routes);
  g_free (routes);
}

static gboolean
routes_add (DdrDnsRoutes *routes, const char *domain, guint value, gboolean exact,
            GError **error)
{
  Route r = { { 0 }, 0, value, exact };
  guint at;

  g_return_val_if_fail (routes != NULL, FALSE);

  if (domain == NULL)
    {
      g_set_error (error, DDR_DNS_ROUTE_ERROR, 0, "local route without a domain");
      return FALSE;
    }
  if (domain[0] == '\0' && exact)
    {
      g_set_error (error, DDR_DNS_ROUTE_ERROR, 0, "a route for one name needs that name");
      return FALSE;
    }
  if (domain[0] == '\0' && routes->has_single)
    {
      g_set_error (error, DDR_DNS_ROUTE_ERROR, 0, "local route for single-label names given twice");
      return FALSE;
    }
  if (domain[0] == '\0')
    {
      routes->has_single = TRUE;
      routes->single_value = value;
      return TRUE;
    }
  if (strcmp (domain, ".") == 0)
    {
      g_set_error (error, DDR_DNS_ROUTE_ERROR, 0,
                   "refusing a local route for the root \".\": it would send every name "
                   "around the DNS firewall");
      return FALSE;
    }
  if (!ddr_dns_name_from_string (domain, r.wire, &r.len) || r.len <= 1)
    {
      g_set_error (error, DDR_DNS_ROUTE_ERROR, 0,
                   "invalid local route domain \"%s\": expected a domain name such as corp.example",
                   domain);
      return FALSE;
    }
  for (gsize i = 0; i < r.len; i++)
    r.wire[i] = (guint8) g_ascii_tolower (r.wire[i]);

  /* Keep the array longest first: among domains a name is under, the longer
   * wire form is the one with more labels, so the first hit is the longest. */
  for (at = 0; at < routes->routes->len; at++)
    {
      const Route *o = &g_array_index (routes->routes, Route, at);

      if (o->len == r.len && memcmp (o->wire, r.wire, r.len) == 0)
        {
          g_set_error (error, DDR_DNS_ROUTE_ERROR, 0, "local route for \"%s\" given twice", domain);
          return FALSE;
        }
      if (o->len < r.len)
        break;
    }
  g_array_insert_val (routes->routes, at, r);
  return TRUE;
}

gboolean
ddr_dns_routes_add (DdrDnsRoutes *routes, const char *domain, guint value, GError **error)
{
  return routes_add (routes, domain, value, FALSE, error);
}

gboolean
ddr_dns_routes_add_exact (DdrDnsRoutes *routes, const char *name, guint value, GError **error)
{
  return routes_add (routes, name, value, TRUE, error);
}

gint
ddr_dns_routes_lookup (const DdrDnsRoutes *routes, const guint8 *name, gsize name_len)
{
  for (guint i = 0; i < routes->routes->len; i++)
    {
      const Route *r = &g_array_index (routes->routes, Route, i);

      if (r->len > name_len || (r->exact && r->len != name_len))
        continue;
      /* name is lower case already; the zone is too, so this is an exact compare. */
      if (ddr_dns_name_is_subdomain (name, name_len, r->wire, r->len))
        return (gint) r->value;
    }
  /* One label: a length byte, the label, the root. */
  if (routes->has_single && name_len >= 3 && (gsize) name[0] + 2 == name_len)
    return (gint) routes->single_value;
  return -1;
}

guint
ddr_dns_routes_size (const DdrDnsRoutes *routes)
{
  return routes->routes->len + (routes->has_single ? 1 : 0);
}

gboolean
ddr_dns_name_is_proxy_discovery (const guint8 *name, gsize name_len)
{
  gsize at = 0;

  while (at < name_len && name[at] != 0)
    {
      gsize len = name[at];
      const guint8 *label = name + at + 1;

      if (at + 1 + len > name_len)
        return FALSE;
      if ((len == 4 && memcmp (label, "wpad", 4) == 0) ||
          (len == 6 && memcmp (label, "isatap", 6) == 0))
        return TRUE;
      at += 1 + len;
    }
  return FALSE;
}
