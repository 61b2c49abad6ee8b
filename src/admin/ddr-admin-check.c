/* --action=check: resolve the check-domain through the relay and the system resolver. */
#include "config.h"

#include <glib/gi18n.h>
#include <gio/gio.h>

#include "ddr-admin-check.h"
#include "ddr-admin-client.h"
#include "ddr-dns-wire.h"

#define CHECK_TIMEOUT_MS 3000

gboolean
ddr_admin_check_target (const char *listen, char **host, guint16 *port)
{
  g_autofree char *h = NULL;
  g_autoptr(GInetAddress) addr = NULL;
  guint64 p = 53;
  const char *colon;

  if (!listen || !*listen)
    return FALSE;
  if (listen[0] == '[')
    {
      const char *close = strchr (listen, ']');

      if (!close)
        return FALSE;
      h = g_strndup (listen + 1, close - listen - 1);
      if (close[1] == ':')
        {
          if (!g_ascii_string_to_unsigned (close + 2, 10, 1, 65535, &p, NULL))
            return FALSE;
        }
      else if (close[1] != '\0')
        return FALSE;
    }
  else if ((colon = strchr (listen, ':')) && strchr (colon + 1, ':') == NULL)
    {
      h = g_strndup (listen, colon - listen);
      if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &p, NULL))
        return FALSE;
    }
  else
    h = g_strdup (listen);

  addr = g_inet_address_new_from_string (h);
  if (!addr)
    return FALSE;
  if (g_inet_address_get_is_any (addr))
    {
      g_free (h);
      h = g_strdup (g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV6 ? "::1" : "127.0.0.1");
    }
  *host = g_steal_pointer (&h);
  *port = (guint16) p;
  return TRUE;
}

gboolean
ddr_admin_check_query_relay (const char *host, guint16 port, const char *name, char **why)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) addr = g_inet_address_new_from_string (host);
  g_autoptr(GSocketAddress) to = g_inet_socket_address_new (addr, port);
  g_autoptr(GSocket) sock = NULL;
  guint8 query[DDR_DNS_HEADER_LEN + DDR_DNS_MAX_NAME + 4] = { 0 };
  guint8 answer[4096];
  gsize name_len = 0;
  gssize len;
  guint16 id = (guint16) g_random_int_range (0, 65536);
  DdrDnsInfo info;
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;
  guint n_a = 0;

  if (!ddr_dns_name_from_string (name, query + DDR_DNS_HEADER_LEN, &name_len))
    {
      *why = g_strdup_printf (_("\"%s\" is not a valid domain name"), name);
      return FALSE;
    }
  ddr_dns_put16 (query, id);
  ddr_dns_put16 (query + 2, DDR_DNS_FLAG_RD);
  ddr_dns_put16 (query + 4, 1);
  ddr_dns_put16 (query + DDR_DNS_HEADER_LEN + name_len, DDR_DNS_TYPE_A);
  ddr_dns_put16 (query + DDR_DNS_HEADER_LEN + name_len + 2, DDR_DNS_CLASS_IN);

  sock = g_socket_new (g_inet_address_get_family (addr), G_SOCKET_TYPE_DATAGRAM,
                       G_SOCKET_PROTOCOL_UDP, &error);
  if (sock)
    g_socket_set_timeout (sock, CHECK_TIMEOUT_MS / 1000);
  if (!sock
      || g_socket_send_to (sock, to, (const char *) query, DDR_DNS_HEADER_LEN + name_len + 4,
                           NULL, &error) < 0)
    {
      *why = g_strdup (error->message);
      return FALSE;
    }
  for (;;)
    {
      len = g_socket_receive (sock, (char *) answer, sizeof answer, NULL, &error);
      if (len < 0)
        {
          *why = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
                 ? g_strdup (_("no answer")) : g_strdup (error->message);
          return FALSE;
        }
      if (len >= 2 && ddr_dns_get16 (answer) == id)
        break;
    }
  if (ddr_dns_parse_response (answer, len, &info) != DDR_DNS_OK)
    {
      *why = g_strdup (_("a malformed answer"));
      return FALSE;
    }
  if (DDR_DNS_RCODE (info.flags) != DDR_DNS_RCODE_NOERROR)
    {
      /* TRANSLATORS: %u is a DNS response code number (2 = SERVFAIL, 3 = NXDOMAIN). */
      *why = g_strdup_printf (_("an error answer (DNS rcode %u)"), DDR_DNS_RCODE (info.flags));
      return FALSE;
    }
  ddr_dns_record_iter_init (&iter, answer, len);
  while (ddr_dns_record_iter_next (&iter, &rec))
    if (rec.section == DDR_DNS_SECTION_ANSWER && rec.type == DDR_DNS_TYPE_A && rec.rdlength == 4)
      n_a++;
  if (n_a == 0)
    {
      *why = g_strdup (_("an answer without addresses"));
      return FALSE;
    }
  return TRUE;
}

/* The system resolver (nsswitch, /etc/resolv.conf, systemd-resolved: whatever
 * applications use). */
static gboolean
query_system (const char *name, char **why)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  g_autoptr(GError) error = NULL;
  GList *addrs;

  addrs = g_resolver_lookup_by_name (resolver, name, NULL, &error);
  if (!addrs)
    {
      g_dbus_error_strip_remote_error (error);
      *why = g_strdup (error->message);
      return FALSE;
    }
  g_resolver_free_addresses (addrs);
  return TRUE;
}

static guint64
relay_queries (DdrAdminClient *client)
{
  g_autoptr(GVariant) stats = ddr_admin_client_get_statistics (client);

  return stats ? ddr_admin_lookup_uint (stats, "queries") : 0;
}

int
ddr_admin_check (void)
{
  g_autoptr(DdrAdminClient) client = ddr_admin_client_new ();
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) listen = NULL;
  g_autofree char *host = NULL;
  g_autofree char *relay_why = NULL;
  g_autofree char *shown = NULL;       /* domain as printed */
  g_autofree char *system_why = NULL;
  const char *domain;
  const char *first = NULL;
  guint16 port = 0;
  gboolean relay_ok = FALSE, system_ok, via_relay;
  guint64 before, after;

  if (!client)
    return 1;
  props = ddr_admin_client_get_properties (client);
  if (!props)
    return 1;
  domain = ddr_admin_lookup_string (props, "CheckDomain");
  if (!*domain)
    {
      g_printerr (_("No check-domain is configured ([service] check-domain= in ddr.conf), "
                    "so protection cannot be checked.\n"));
      return 1;
    }
  shown = ddr_admin_printable (domain);
  listen = g_variant_lookup_value (props, "ListenAddresses", G_VARIANT_TYPE_STRING_ARRAY);
  if (listen && g_variant_n_children (listen) > 0)
    g_variant_get_child (listen, 0, "&s", &first);

  /* 1. Straight to the relay: does the ThreatSTOP service answer through it? */
  if (first && ddr_admin_check_target (first, &host, &port))
    relay_ok = ddr_admin_check_query_relay (host, port, domain, &relay_why);
  else
    relay_why = g_strdup (_("the daemon reports no usable listen address"));
  if (relay_ok)
    g_print (_("Relay (%s port %u): %s answered through the ThreatSTOP service.\n"),
             host, port, shown);
  else
    g_print (_("Relay (%s port %u): %s did not resolve: %s.\n"),
             host ? host : "?", port, shown, relay_why);

  /* 2. The system resolver, which is what applications use. The relay's query count
   * tells whether it went through this relay. */
  before = relay_queries (client);
  system_ok = query_system (domain, &system_why);
  after = relay_queries (client);
  via_relay = after > before;
  if (system_ok)
    g_print (via_relay
             ? _("System resolver: %s answered, through this relay.\n")
             : _("System resolver: %s answered, through another resolver that also uses the "
                 "ThreatSTOP service.\n"),
             shown);
  else
    g_print (_("System resolver: %s did not resolve: %s.\n"), shown, system_why);

  if (system_ok)
    {
      g_print ("%s\n", _("This system is protected."));
      return 0;
    }
  g_print ("%s\n", relay_ok
           ? _("This system is NOT protected: the relay works, but the system resolver does "
               "not use it.")
           : _("This system is NOT protected."));
  return 1;
}
