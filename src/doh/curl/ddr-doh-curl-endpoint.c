/* DoH endpoints (curl engine): one upstream URL parsed once, optionally pinned to addresses. */
#define G_LOG_DOMAIN "ddr-doh"

#include "config.h"

#include "ddr-doh-curl-private.h"

#include <string.h>

DdrDohEndpoint *
ddr_doh_endpoint_new (const char *url, GError **error)
{
  g_autoptr(DdrDohEndpoint) ep = g_new0 (DdrDohEndpoint, 1);
  CURLUcode uc;

  /* curl's parse goes first: what it refuses, it explains in its own words */
  ep->uh = curl_url ();
  uc = curl_url_set (ep->uh, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
  if (uc != CURLUE_OK)
    return ddr_doh_url_error (error, url, "is not a valid URL", curl_url_strerror (uc)), NULL;
  if (!ddr_doh_url_parse (url, &ep->url, error))
    return NULL;
  /* Never send a fragment; it means nothing to the server. */
  curl_url_set (ep->uh, CURLUPART_FRAGMENT, NULL, 0);
  return g_steal_pointer (&ep);
}

void
ddr_doh_endpoint_free (DdrDohEndpoint *ep)
{
  if (!ep)
    return;
  curl_url_cleanup (ep->uh);
  curl_slist_free_all (ep->resolve);
  ddr_doh_url_clear (&ep->url);
  g_free (ep);
}

void
ddr_doh_endpoint_set_addresses (DdrDohEndpoint *ep, const char *const *ips)
{
  g_auto(GStrv) pinned = ddr_doh_url_pin_addresses (&ep->url, ips);
  g_autoptr(GString) entry = NULL;

  g_clear_pointer (&ep->resolve, curl_slist_free_all);
  if (!pinned)
    return;
  entry = g_string_new (NULL);
  g_string_append_printf (entry, "%s:%s:", ep->url.host, ep->url.port);
  for (guint i = 0; pinned[i]; i++)
    g_string_append_printf (entry, strchr (pinned[i], ':') ? "%s[%s]" : "%s%s",
                            i > 0 ? "," : "", pinned[i]);
  ep->resolve = curl_slist_append (NULL, entry->str);
}
