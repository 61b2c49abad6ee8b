/* Parsing of listen addresses: "127.0.0.1:53", "[::1]:5300", "::1", "0.0.0.0". */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ddr-relay-private.h"

#define LISTEN_FORM "expected IP[:PORT] such as 127.0.0.1:53, [::1]:53 or 0.0.0.0"

static gboolean
parse_port (const char *text, guint16 *port)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, 65535, &value, NULL))
    return FALSE;
  *port = (guint16) value;
  return TRUE;
}

GInetSocketAddress *
ddr_parse_listen_address (const char *text, GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) ip = NULL;
  guint16 port = 53;
  const char *colon;

  if (text[0] == '[')
    {
      const char *end = strchr (text, ']');
      if (!end || (end[1] != '\0' && (end[1] != ':' || !parse_port (end + 2, &port))))
        goto bad;
      host = g_strndup (text + 1, (gsize) (end - text - 1));
    }
  else if ((colon = strchr (text, ':')) && strchr (colon + 1, ':'))
    host = g_strdup (text);         /* a bare IPv6 address */
  else if (colon)
    {
      if (!parse_port (colon + 1, &port))
        goto bad;
      host = g_strndup (text, (gsize) (colon - text));
    }
  else
    host = g_strdup (text);

  ip = g_inet_address_new_from_string (host);
  /* A bracketed address must be IPv6. */
  if (!ip || (text[0] == '[' && g_inet_address_get_family (ip) != G_SOCKET_FAMILY_IPV6))
    goto bad;
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ip, port));

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "invalid listen address \"%s\": %s", text, LISTEN_FORM);
  return NULL;
}

const char *
ddr_listen_error_reason (const GError *error)
{
  const char *sep = g_strrstr (error->message, ": ");

  return sep ? sep + 2 : error->message;
}
