/* The gates for what the portal probe takes from the network: the portal's address
 * (PortalUrl; only a plain http(s) URL passes) and the probe host's DNS answers. */
#define G_LOG_DOMAIN "ddr-portal-probe"

#include "ddr-portal-url.h"

#include <string.h>
#include <gio/gio.h>

/* Characters a browser or a terminal would act on or hide: C0/C1 controls and DEL (a
 * NUL cuts the string, ESC drives the terminal), format characters such as the bidi
 * overrides and zero-width joiners (they make the text show another host than the
 * one it names), line and paragraph separators. */
static gboolean
is_unwanted (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
    case G_UNICODE_UNASSIGNED:
    case G_UNICODE_SURROGATE:
    case G_UNICODE_PRIVATE_USE:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Bytes that have no place in a URL as sent (RFC 3986 wants them percent-encoded), and
 * on which parsers disagree: a space ends it for some, a backslash is a slash to a
 * browser ("http://portal\@evil" is host "portal" there, "evil" to GLib). */
static gboolean
is_ambiguous (gunichar c)
{
  return c == ' ' || c == '\\' || c == '"' || c == '<' || c == '>' || c == '`';
}

static const char *
check_text (const char *raw, gsize len)
{
  const char *end = raw + len;

  if (len > DDR_PORTAL_URL_MAX)
    return "it is longer than 2048 bytes";
  if (memchr (raw, '\0', len) != NULL)
    return "it contains control characters";
  if (!g_utf8_validate_len (raw, len, NULL))
    return "it is not valid UTF-8";
  for (const char *p = raw; p < end; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_unwanted (c))
        return "it contains control characters";
      if (is_ambiguous (c))
        return "it contains characters a URL must not";
    }
  return NULL;
}

char *
ddr_portal_url_check (const char *base, const char *raw, gsize len, const char **why)
{
  g_autofree char *text = NULL;
  g_autoptr(GUri) base_uri = NULL;
  g_autoptr(GUri) uri = NULL;
  const char *scheme, *host;
  const char *bad;
  char *out;

  g_return_val_if_fail (why != NULL, NULL);
  *why = NULL;
  if (raw == NULL || len == 0)
    {
      *why = "it is empty";
      return NULL;
    }
  /* Bounded first: nothing below runs over more than DDR_PORTAL_URL_MAX bytes. */
  bad = check_text (raw, len);
  if (bad != NULL)
    {
      *why = bad;
      return NULL;
    }
  text = g_strndup (raw, len);
  base_uri = base != NULL ? g_uri_parse (base, G_URI_FLAGS_ENCODED, NULL) : NULL;
  uri = base_uri != NULL ? g_uri_parse_relative (base_uri, text, G_URI_FLAGS_ENCODED, NULL)
                         : g_uri_parse (text, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    {
      *why = "it is not a URL";
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  host = g_uri_get_host (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    *why = "it is not an http or https URL";
  else if (host == NULL || *host == '\0')
    *why = "it names no host";
  /* A portal never needs credentials in its address; "http://bank.example@evil/"
   * only serves to show one host and open another. */
  else if (g_uri_get_userinfo (uri) != NULL)
    *why = "it carries a user name";
  if (*why != NULL)
    return NULL;
  /* What GLib understood, not what was sent: the two agree on every byte checked. */
  out = g_uri_to_string (uri);
  if (strlen (out) > DDR_PORTAL_URL_MAX || check_text (out, strlen (out)) != NULL)
    {
      g_free (out);
      *why = "it is not a URL";
      return NULL;
    }
  return out;
}

/* A hostile DNS must not aim a request of root's at a service of this machine or its
 * link. */
const char *
ddr_portal_address_refused (const char *text)
{
  static const guint8 v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  g_autoptr(GInetAddress) a = g_inet_address_new_from_string (text);
  const guint8 *b;

  if (a == NULL)
    return "not an address";
  b = g_inet_address_to_bytes (a);
  /* ::ffff:a.b.c.d is a.b.c.d */
  if (g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV6 && memcmp (b, v4_mapped, 12) == 0)
    {
      g_autofree char *v4 = g_strdup_printf ("%u.%u.%u.%u", b[12], b[13], b[14], b[15]);

      return ddr_portal_address_refused (v4);
    }
  if (g_inet_address_get_is_loopback (a))
    return "loopback";
  if (g_inet_address_get_is_any (a)
      || (g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV4 && b[0] == 0))
    return "unspecified";
  if (g_inet_address_get_is_link_local (a))
    return "link-local";
  if (g_inet_address_get_is_multicast (a))
    return "multicast";
  return NULL;
}
