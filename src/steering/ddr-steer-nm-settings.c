/* The settings of the owned NetworkManager profiles: the anchor and the bound activation. */
#define G_LOG_DOMAIN "ddr-steer"

#include <arpa/inet.h>

#include "ddr-steer-private.h"

/* libnm's NM_SETTING_CONNECTION_LLMNR_NO and NM_SETTING_CONNECTION_MDNS_NO (raw GDBus here). */
#define NM_LLMNR_NO 0
#define NM_MDNS_NO  0

static void
add_connection (GVariantBuilder *all, const char *uuid, DdrSteerLinkType link)
{
  GVariantBuilder s;

  g_variant_builder_init (&s, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&s, "{sv}", "id", g_variant_new_string (DDR_STEER_NM_ID));
  g_variant_builder_add (&s, "{sv}", "uuid", g_variant_new_string (uuid));
  g_variant_builder_add (&s, "{sv}", "type",
                         g_variant_new_string (link == DDR_STEER_LINK_VETH ? "veth" : "dummy"));
  g_variant_builder_add (&s, "{sv}", "interface-name", g_variant_new_string (DDR_STEER_IFACE));
  g_variant_builder_add (&s, "{sv}", "autoconnect", g_variant_new_boolean (FALSE));
  /* ddr0 answers no multicast name: with LLMNR on it, resolved sends every single-label
   * name there too and a failing local lookup waits ~3 s a query (issue 12.9). */
  g_variant_builder_add (&s, "{sv}", "llmnr", g_variant_new_int32 (NM_LLMNR_NO));
  g_variant_builder_add (&s, "{sv}", "mdns", g_variant_new_int32 (NM_MDNS_NO));
  g_variant_builder_add (all, "{sa{sv}}", "connection", &s);
}

/* The link section: dummy has none to fill; a veth names its peer only when the
 * profile creates the pair (NM rejects a peer on a pair that exists, steer.md §2.4). */
static void
add_link (GVariantBuilder *all, DdrSteerLinkType link, gboolean with_peer)
{
  GVariantBuilder s;

  if (link == DDR_STEER_LINK_VETH && !with_peer)
    return;
  g_variant_builder_init (&s, G_VARIANT_TYPE_VARDICT);
  if (link == DDR_STEER_LINK_VETH)
    g_variant_builder_add (&s, "{sv}", "peer", g_variant_new_string (DDR_STEER_VETH_PEER));
  g_variant_builder_add (all, "{sa{sv}}", link == DDR_STEER_LINK_VETH ? "veth" : "dummy", &s);
}

static void
add_steering_ipv4 (GVariantBuilder *all)
{
  GVariantBuilder s, addr, addrs, dns, search;
  struct in_addr lo;

  inet_pton (AF_INET, "127.0.0.1", &lo);
  g_variant_builder_init (&addr, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&addr, "{sv}", "address", g_variant_new_string (DDR_STEER_ADDRESS));
  g_variant_builder_add (&addr, "{sv}", "prefix", g_variant_new_uint32 (32));
  g_variant_builder_init (&addrs, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_add_value (&addrs, g_variant_builder_end (&addr));
  /* ipv4.dns is "au": addresses in network byte order. */
  g_variant_builder_init (&dns, G_VARIANT_TYPE ("au"));
  g_variant_builder_add (&dns, "u", (guint32) lo.s_addr);
  g_variant_builder_init (&search, G_VARIANT_TYPE ("as"));
  g_variant_builder_add (&search, "s", "~.");
  g_variant_builder_init (&s, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&s, "{sv}", "method", g_variant_new_string ("manual"));
  g_variant_builder_add (&s, "{sv}", "address-data", g_variant_builder_end (&addrs));
  g_variant_builder_add (&s, "{sv}", "never-default", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&s, "{sv}", "dns", g_variant_builder_end (&dns));
  g_variant_builder_add (&s, "{sv}", "dns-search", g_variant_builder_end (&search));
  /* Negative: the only priority that keeps the network's servers out in every NM
   * DNS mode (DESIGN.md, "How system DNS is steered"). */
  g_variant_builder_add (&s, "{sv}", "dns-priority", g_variant_new_int32 (-500));
  g_variant_builder_add (all, "{sa{sv}}", "ipv4", &s);
}

static void
add_disabled (GVariantBuilder *all, const char *family)
{
  GVariantBuilder s;

  g_variant_builder_init (&s, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&s, "{sv}", "method", g_variant_new_string ("disabled"));
  g_variant_builder_add (all, "{sa{sv}}", family, &s);
}

GVariant *
ddr_steer_nm_anchor_settings (DdrSteerLinkType link, gboolean steering)
{
  GVariantBuilder all;

  g_variant_builder_init (&all, G_VARIANT_TYPE ("a{sa{sv}}"));
  add_connection (&all, DDR_STEER_NM_UUID, link);
  add_link (&all, link, TRUE);
  if (steering)
    add_steering_ipv4 (&all);
  else
    add_disabled (&all, "ipv4");
  add_disabled (&all, "ipv6");
  return g_variant_builder_end (&all);
}

GVariant *
ddr_steer_nm_bound_settings (DdrSteerLinkType link)
{
  GVariantBuilder all;

  g_variant_builder_init (&all, G_VARIANT_TYPE ("a{sa{sv}}"));
  add_connection (&all, DDR_STEER_NM_BOUND_UUID, link);
  add_link (&all, link, FALSE);
  add_steering_ipv4 (&all);
  add_disabled (&all, "ipv6");
  return g_variant_builder_end (&all);
}
