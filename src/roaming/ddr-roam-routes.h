/* Split DNS: which names the relay sends to the network's own servers instead of the service. */
#pragma once

#include "ddr-nm-monitor.h"

G_BEGIN_DECLS

typedef struct {
  char    *domain;    /* "" = single-label names */
  char   **servers;   /* IP literals */
  gboolean exact;     /* that name only (a portal's host), nothing under it */
  gboolean untrusted; /* an untrusted network's servers: never sent wpad/isatap names */
} DdrRoamRoute;

void ddr_roam_route_free (DdrRoamRoute *route);

/* The routes for a network (DESIGN.md, How system DNS is steered):
 * VPN domains to the VPN's servers; to the primary connection's servers:
 * single-label names, home.arpa, lan, internal, local, private and link-local
 * reverse zones, local_domains, the hosts in extra_hosts (connectivity check and
 * portal probe hosts, so portal detection keeps working while steered), and the
 * connection's own search domains only when trusted (a hotspot handing out the
 * search domain "com" must not route queries around the firewall). portal_host
 * (NULL: none) is the host of the captive portal seen now: that name only, for
 * as long as the portal is there, so "log in" works while the service keeps the
 * laptop protected. "." is never a route. Returns a GPtrArray of DdrRoamRoute,
 * VPN routes first; never NULL. */
GPtrArray *ddr_roam_routes_build (const DdrNetSnapshot *snapshot,
                                  const char *const    *local_domains,
                                  const char *const    *extra_hosts,
                                  const char           *portal_host,
                                  gboolean              trusted);

G_END_DECLS
