/* Split DNS table: which local route (if any) a query name takes. Pure code. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DDR_DNS_ROUTE_ERROR (ddr_dns_route_error_quark ())
GQuark ddr_dns_route_error_quark (void);

typedef struct _DdrDnsRoutes DdrDnsRoutes;

DdrDnsRoutes *ddr_dns_routes_new  (void);
void          ddr_dns_routes_free (DdrDnsRoutes *routes);

/* domain: "corp.example" (case and a trailing dot do not matter), or "" for
 * single-label names ("printer"). The root "." is refused: a route for it
 * would take every name away from the DNS firewall. A domain already in the
 * table is refused too (the first one given wins). The error names the
 * domain and why. */
gboolean ddr_dns_routes_add    (DdrDnsRoutes *routes, const char *domain, guint value,
                                GError **error);
/* The same for one name only (a captive portal's host): names under it are not
 * matched. "" and "." are refused. */
gboolean ddr_dns_routes_add_exact (DdrDnsRoutes *routes, const char *name, guint value,
                                   GError **error);
/* name: wire form, lower case (DdrDnsInfo.qname). Returns the value of the
 * longest domain the name is at or under (else the "" route for a single-label
 * name), or -1 for none. Allocation-free. */
gint          ddr_dns_routes_lookup (const DdrDnsRoutes *routes, const guint8 *name, gsize name_len);
guint         ddr_dns_routes_size   (const DdrDnsRoutes *routes);

/* TRUE if a label of name (wire form, lower case) is "wpad" or "isatap": web
 * proxy auto-discovery and ISATAP lookups, which whoever answers them can use to
 * take over a client's web traffic or IPv6 routing. */
gboolean      ddr_dns_name_is_proxy_discovery (const guint8 *name, gsize name_len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrDnsRoutes, ddr_dns_routes_free)

G_END_DECLS
