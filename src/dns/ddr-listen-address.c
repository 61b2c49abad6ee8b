/* Parsing of listen addresses: "127.0.0.1:53", "[::1]:5300", "[::1]", "0.0.0.0". Pure code. */
#include "config.h"

#include <string.h>

#include "ddr-listen-address.h"

#define LISTEN_FORM "expected IP[:PORT] such as 127.0.0.1:53, [::1]:53 or 0.0.0.0, port 1-65535"

static gboolean
parse_port (const char *text, guint16 *port)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, 65535, &value, NULL))
    return FALSE;
  *port = (guint16) value;
  return TRUE;
}

/* Splits text into host and port (default 53); FALSE if the form is wrong.
 * IPv6 must be bracketed: "::1:5353" could be an address or ::1 port 5353. */
static gboolean
split_host_port (const char *text, char **host, guint16 *port, const char **hint)
{
  const char *colon = strchr (text, ':');

  *port = 53;
  if (text[0] == '[')
    {
      const char *end = strchr (text, ']');

      if (!end || (end[1] != '\0' && (end[1] != ':' || !parse_port (end + 2, port))))
        return FALSE;
      *host = g_strndup (text + 1, (gsize) (end - text - 1));
      return TRUE;
    }
  if (colon && strchr (colon + 1, ':'))
    {
      *hint = "write IPv6 addresses in brackets, such as [::1] or [::1]:53";
      return FALSE;
    }
  if (colon && !parse_port (colon + 1, port))
    return FALSE;
  *host = colon ? g_strndup (text, (gsize) (colon - text)) : g_strdup (text);
  return TRUE;
}

GInetSocketAddress *
ddr_parse_listen_address (const char *text, GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) ip = NULL;
  const char *hint = LISTEN_FORM;
  guint16 port;

  if (split_host_port (text, &host, &port, &hint))
    ip = g_inet_address_new_from_string (host);
  /* A bracketed address must be IPv6. */
  if (!ip || (text[0] == '[' && g_inet_address_get_family (ip) != G_SOCKET_FAMILY_IPV6))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "invalid listen address \"%s\": %s", text, hint);
      return NULL;
    }
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ip, port));
}
