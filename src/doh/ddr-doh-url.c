/* An upstream's https URL, parsed the same way whichever DoH engine is built. */
#define G_LOG_DOMAIN "ddr-doh"

#include "config.h"

#include "ddr-doh-url.h"
#include "ddr-doh-client.h"

#include <gio/gio.h>
#include <string.h>

gboolean
ddr_doh_url_error (GError **error, const char *url, const char *what, const char *detail)
{
  if (detail)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "url \"%s\" %s (%s): " DDR_DOH_URL_HINT, url, what, detail);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "url \"%s\" %s: " DDR_DOH_URL_HINT, url, what);
  return FALSE;
}

gboolean
ddr_doh_url_parse (const char *url, DdrDohUrl *out, GError **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local = NULL;
  const char *scheme, *host, *path, *query;
  int port;

  memset (out, 0, sizeof *out);
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED | G_URI_FLAGS_SCHEME_NORMALIZE, &local);
  if (!uri)
    {
      const char *s = g_uri_peek_scheme (url);

      if (s && g_ascii_strcasecmp (s, "https") != 0)
        return ddr_doh_url_error (error, url, "is not https", NULL);
      return ddr_doh_url_error (error, url, "is not a valid URL", local->message);
    }
  scheme = g_uri_get_scheme (uri);
  if (!scheme || g_ascii_strcasecmp (scheme, "https") != 0)
    return ddr_doh_url_error (error, url, "is not https", NULL);
  host = g_uri_get_host (uri);
  if (!host || !*host)
    return ddr_doh_url_error (error, url, "has no host", NULL);
  port = g_uri_get_port (uri);
  if (port == 0 || port > 65535)
    return ddr_doh_url_error (error, url, "is not a valid URL", "bad port");
  if (port < 0)
    port = 443;

  out->bare_host = g_strdup (host);
  out->host_is_ip = g_hostname_is_ip_address (host);
  out->host = strchr (host, ':') ? g_strdup_printf ("[%s]", host) : g_strdup (host);
  out->port = g_strdup_printf ("%d", port);
  path = g_uri_get_path (uri);
  out->path = g_strdup (path && *path ? path : "/");
  query = g_uri_get_query (uri);
  if (query && *query)
    out->query = g_strdup (query);
  return TRUE;
}

void
ddr_doh_url_clear (DdrDohUrl *url)
{
  g_clear_pointer (&url->host, g_free);
  g_clear_pointer (&url->bare_host, g_free);
  g_clear_pointer (&url->port, g_free);
  g_clear_pointer (&url->path, g_free);
  g_clear_pointer (&url->query, g_free);
  url->host_is_ip = FALSE;
}

char **
ddr_doh_url_pin_addresses (const DdrDohUrl *url, const char *const *ips)
{
  GPtrArray *list;

  if (url->host_is_ip || !ips || !ips[0])
    return NULL;
  list = g_ptr_array_new ();
  for (guint i = 0; ips[i]; i++)
    {
      const char *ip = ips[i];
      gsize n = strlen (ip);

      if (ip[0] == '[' && n >= 2 && ip[n - 1] == ']')
        g_ptr_array_add (list, g_strndup (ip + 1, n - 2));
      else
        g_ptr_array_add (list, g_strdup (ip));
    }
  g_ptr_array_add (list, NULL);
  return (char **) g_ptr_array_free (list, FALSE);
}

void
ddr_doh_url_append_get_query (const DdrDohUrl *url, GString *out,
                              const guint8 *msg, gsize len)
{
  gsize start, n;
  gint state = 0, save = 0;
  char *b;

  g_string_append (out, "dns=");
  start = out->len;
  g_string_set_size (out, start + (len / 3 + 1) * 4 + 4);
  b = out->str + start;
  n = g_base64_encode_step (msg, len, FALSE, b, &state, &save);
  n += g_base64_encode_close (FALSE, b + n, &state, &save);
  while (n > 0 && b[n - 1] == '=')
    n--;
  for (gsize i = 0; i < n; i++)
    {
      if (b[i] == '+')
        b[i] = '-';
      else if (b[i] == '/')
        b[i] = '_';
    }
  g_string_truncate (out, start + n);
  if (url->query)
    {
      g_string_append_c (out, '&');
      g_string_append (out, url->query);
    }
}

/* Both engines' endpoints open with their DdrDohUrl (each checks it with a
 * G_STATIC_ASSERT), so what needs only the URL is answered once, here. */

const char *
ddr_doh_endpoint_get_host (const DdrDohEndpoint *ep)
{
  return ((const DdrDohUrl *) ep)->host;
}

gboolean
ddr_doh_endpoint_host_is_ip (const DdrDohEndpoint *ep)
{
  return ((const DdrDohUrl *) ep)->host_is_ip;
}
