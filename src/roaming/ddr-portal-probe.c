/* Captive-portal probe: one libcurl GET, its host resolved by the network's DNS, pinned, bound to its device. */
#define G_LOG_DOMAIN "ddr-portal-probe"

#include "config.h"

#include "ddr-curl-glib.h"
#include "ddr-dns-udp-client.h"
#include "ddr-portal-probe.h"
#include "ddr-portal-url.h"

#include <string.h>

#define QTYPE_A      1
#define QTYPE_AAAA   28
#define DDR_PORTAL_MAX_HEADERS (64 * 1024)

typedef struct
{
  char         *url;
  char         *host;
  guint16       port;
  char        **servers;
  char         *iface;
  gint64        deadline_us;
  guint         timeout_ms;

  GCancellable *cancel;          /* ours: stops the DNS lookups */
  gboolean      caller_cancelled;
  GSource      *timer;
  GSource      *cancel_source;
  gboolean      done;

  GPtrArray    *addresses;       /* IP literals to pin, in order */
  char         *refused;         /* the last address refused, and why */
  gboolean      asked_aaaa;

  GTask        *running;         /* held while curl runs (curl's callbacks have no ref) */
  DdrCurlGlib  *curl;
  CURL         *easy;
  struct curl_slist *resolve;
  struct curl_slist *headers;
  char          errbuf[CURL_ERROR_SIZE];
  glong         status;          /* the last response's */
  gsize         header_bytes;    /* all responses' headers so far */
  GString      *location;        /* that response's Location, up to the gate's bound + 1 */
  gsize         location_len;    /* its real length */
  gboolean      location_seen;
  gsize         body_len;
  gboolean      body_overflow;
} Probe;

typedef struct
{
  DdrPortalResult result;
  char           *portal_url;
  char           *detail;
} Verdict;

static void
verdict_free (Verdict *v)
{
  g_free (v->portal_url);
  g_free (v->detail);
  g_free (v);
}

static void
curl_stop (Probe *p)
{
  if (p->easy != NULL)
    {
      curl_multi_remove_handle (ddr_curl_glib_get_multi (p->curl), p->easy);
      curl_easy_cleanup (p->easy);
      p->easy = NULL;
    }
}

static void
probe_free (Probe *p)
{
  curl_stop (p);
  g_clear_pointer (&p->curl, ddr_curl_glib_free);
  curl_slist_free_all (p->resolve);
  curl_slist_free_all (p->headers);
  if (p->timer != NULL)
    g_source_destroy (p->timer);
  g_clear_pointer (&p->timer, g_source_unref);
  if (p->cancel_source != NULL)
    g_source_destroy (p->cancel_source);
  g_clear_pointer (&p->cancel_source, g_source_unref);
  g_clear_object (&p->cancel);
  g_free (p->url);
  g_free (p->host);
  g_strfreev (p->servers);
  g_free (p->iface);
  g_clear_pointer (&p->addresses, g_ptr_array_unref);
  g_free (p->refused);
  if (p->location != NULL)
    g_string_free (p->location, TRUE);
  g_free (p);
}

/* The one way out: every path ends here exactly once; later callbacks see done. */
static void
probe_return (GTask *task, DdrPortalResult result, char *portal_url, char *detail)
{
  Probe *p = g_task_get_task_data (task);
  Verdict *v;

  if (p->done)
    {
      g_free (portal_url);
      g_free (detail);
      return;
    }
  p->done = TRUE;
  if (p->timer != NULL)
    g_source_destroy (p->timer);
  if (p->cancel_source != NULL)
    g_source_destroy (p->cancel_source);
  g_cancellable_cancel (p->cancel);
  curl_stop (p);
  v = g_new0 (Verdict, 1);
  v->result = result;
  /* Never NULL: the probe URL unless the portal named its address (or one unusable). */
  v->portal_url = portal_url ? portal_url : g_strdup (p->url ? p->url : "");
  v->detail = detail;
  g_debug ("portal probe of %s: %s", p->url, detail);
  g_task_return_pointer (task, v, (GDestroyNotify) verdict_free);
  g_clear_object (&p->running);
}

/* Every failure path comes here; after the caller cancelled, that is what it says. */
static void
probe_unknown (GTask *task, char *detail)
{
  Probe *p = g_task_get_task_data (task);

  if (p->caller_cancelled)
    {
      g_free (detail);
      detail = g_strdup ("the probe was cancelled");
    }
  probe_return (task, DDR_PORTAL_UNKNOWN, NULL, detail);
}

/* ------------------------------------------------------------------------ */
/* The verdict                                                              */

/* 204 or an empty 200 = clear; a redirect, another status or a body = portal. */
static void
judge (GTask *task, CURLcode rc)
{
  Probe *p = g_task_get_task_data (task);
  const char *why = NULL;
  char *target;

  curl_easy_getinfo (p->easy, CURLINFO_RESPONSE_CODE, &p->status);
  if (p->header_bytes > DDR_PORTAL_MAX_HEADERS)
    {
      probe_unknown (task, g_strdup_printf ("response headers from %s longer than %d bytes",
                                            p->host, DDR_PORTAL_MAX_HEADERS));
      return;
    }
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && p->body_overflow))
    {
      probe_unknown (task, g_strdup_printf ("no answer from %s: %s", p->host,
                                            p->errbuf[0] ? p->errbuf : curl_easy_strerror (rc)));
      return;
    }
  if (p->status >= 300 && p->status < 400)
    {
      if (!p->location_seen || p->location_len == 0)
        {
          probe_return (task, DDR_PORTAL_DETECTED, NULL,
                        g_strdup_printf ("HTTP %ld without a Location header", p->status));
          return;
        }
      /* The Location as the portal sent it, through the one gate (STYLE rule 16). */
      target = ddr_portal_url_check (p->url, p->location->str, p->location_len, &why);
      if (target == NULL)
        probe_return (task, DDR_PORTAL_DETECTED, g_strdup (""),
                      g_strdup_printf ("HTTP %ld to an unusable Location (%s)", p->status, why));
      else
        probe_return (task, DDR_PORTAL_DETECTED, target,
                      g_strdup_printf ("redirected to %s", target));
    }
  else if (p->status == 204)
    probe_return (task, DDR_PORTAL_CLEAR, NULL, g_strdup ("HTTP 204"));
  else if (p->status == 200 && p->body_len == 0)
    probe_return (task, DDR_PORTAL_CLEAR, NULL, g_strdup ("HTTP 200 with an empty body"));
  else if (p->status == 200 && p->body_overflow)
    probe_return (task, DDR_PORTAL_DETECTED, NULL,
                  g_strdup_printf ("HTTP 200 with a body of more than %d bytes",
                                   DDR_PORTAL_MAX_BODY));
  else if (p->status == 200)
    probe_return (task, DDR_PORTAL_DETECTED, NULL,
                  g_strdup_printf ("HTTP 200 with a %" G_GSIZE_FORMAT "-byte body", p->body_len));
  else
    probe_return (task, DDR_PORTAL_DETECTED, NULL,
                  g_strdup_printf ("HTTP %ld instead of 204", p->status));
}

/* DdrCurlGlibRan: the one transfer may have finished. */
static void
on_curl_ran (gpointer user_data)
{
  Probe *p = user_data;
  g_autoptr(GTask) task = p->running ? g_object_ref (p->running) : NULL;
  CURLMsg *msg;
  int left;

  while (task != NULL && !p->done
         && (msg = curl_multi_info_read (ddr_curl_glib_get_multi (p->curl), &left)) != NULL)
    if (msg->msg == CURLMSG_DONE)
      judge (task, msg->data.result);
}

/* ------------------------------------------------------------------------ */
/* The transfer                                                             */

/* CURLOPT_HEADERFUNCTION: one header line at a time (curl bounds a line at 100 KiB).
 * Only the status and the Location of the last response count (a 100 Continue may
 * come first); the Location is kept up to one byte past what the gate accepts. */
static size_t
on_header (char *data, size_t size, size_t n, void *user_data)
{
  Probe *p = user_data;
  gsize len = size * n;
  const char *v, *end = data + len;

  /* a portal's headers are small: a server that never ends them gets no verdict */
  p->header_bytes += len;
  if (p->header_bytes > DDR_PORTAL_MAX_HEADERS)
    return 0;
  if (len >= 5 && memcmp (data, "HTTP/", 5) == 0)
    {
      p->location_seen = FALSE;
      p->location_len = 0;
      g_string_truncate (p->location, 0);
      return len;
    }
  if (p->location_seen || len < 9 || g_ascii_strncasecmp (data, "Location:", 9) != 0)
    return len;
  v = data + 9;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
    end--;
  p->location_seen = TRUE;
  p->location_len = (gsize) (end - v);
  g_string_append_len (p->location, v, (gssize) MIN (p->location_len, DDR_PORTAL_URL_MAX + 1));
  return len;
}

/* CURLOPT_WRITEFUNCTION: only the length matters; past the bound the transfer stops. */
static size_t
on_body (char *data, size_t size, size_t n, void *user_data)
{
  Probe *p = user_data;
  gsize len = size * n;

  p->body_len += len;
  if (p->body_len > DDR_PORTAL_MAX_BODY)
    {
      p->body_overflow = TRUE;
      return 0;
    }
  return len;
}

static guint
remaining_ms (Probe *p)
{
  gint64 left = p->deadline_us - g_get_monotonic_time ();

  return left > 1000 ? (guint) (left / 1000) : 1;
}

static void
start_transfer (GTask *task)
{
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GString) pin = g_string_new (NULL);
  g_autofree char *bind = NULL;
  CURL *e;

  /* "host:port:addr,addr": curl asks no resolver of its own */
  g_string_printf (pin, "%s:%u:", p->host, p->port);
  for (guint i = 0; i < p->addresses->len; i++)
    {
      const char *a = p->addresses->pdata[i];

      if (i > 0)
        g_string_append_c (pin, ',');
      if (strchr (a, ':') != NULL)
        g_string_append_printf (pin, "[%s]", a);
      else
        g_string_append (pin, a);
    }
  p->resolve = curl_slist_append (NULL, pin->str);
  p->headers = curl_slist_append (NULL, "Cache-Control: no-cache");
  p->location = g_string_new (NULL);

  p->curl = ddr_curl_glib_new ("ddr-portal-probe", on_curl_ran, p);
  p->easy = e = curl_easy_init ();
  curl_easy_setopt (e, CURLOPT_URL, p->url);
  curl_easy_setopt (e, CURLOPT_RESOLVE, p->resolve);
  /* The network's own device, so that a VPN's default route never carries the
   * probe (kernels >= 5.7 allow it without CAP_NET_RAW). */
  if (p->iface != NULL)
    {
      bind = g_strdup_printf ("if!%s", p->iface);
      curl_easy_setopt (e, CURLOPT_INTERFACE, bind);
    }
  /* Straight to the network: a proxy would hide the portal; a redirect is the answer,
   * not something to follow. */
  curl_easy_setopt (e, CURLOPT_PROXY, "");
  curl_easy_setopt (e, CURLOPT_NOPROXY, "*");
  curl_easy_setopt (e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt (e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt (e, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt (e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
  curl_easy_setopt (e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt (e, CURLOPT_TIMEOUT_MS, (long) remaining_ms (p));
  curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (e, CURLOPT_USERAGENT, "threatstop-ddr portal probe");
  curl_easy_setopt (e, CURLOPT_HTTPHEADER, p->headers);
  curl_easy_setopt (e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (e, CURLOPT_HEADERDATA, p);
  curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (e, CURLOPT_WRITEDATA, p);
  curl_easy_setopt (e, CURLOPT_ERRORBUFFER, p->errbuf);
  p->running = g_object_ref (task);
  /* add_handle only arms the timer: curl starts from the loop, never from here */
  if (curl_multi_add_handle (ddr_curl_glib_get_multi (p->curl), e) != CURLM_OK)
    probe_unknown (task, g_strdup ("curl refused the probe's transfer"));
}

/* ------------------------------------------------------------------------ */
/* Resolving the host                                                       */

/* Keeps the answers that may be probed; TRUE when one is left. */
static gboolean
take_addresses (Probe *p, const char *const *found)
{
  for (guint i = 0; found[i] != NULL; i++)
    {
      const char *kind = ddr_portal_address_refused (found[i]);

      if (kind == NULL)
        g_ptr_array_add (p->addresses, g_strdup (found[i]));
      else
        {
          g_free (p->refused);
          p->refused = g_strdup_printf ("%s (%s)", found[i], kind);
        }
    }
  return p->addresses->len > 0;
}

static void
no_address (GTask *task, guint rcode)
{
  Probe *p = g_task_get_task_data (task);

  if (p->refused != NULL)
    probe_unknown (task, g_strdup_printf ("refused the address the network's DNS gave for %s: %s",
                                          p->host, p->refused));
  else
    probe_unknown (task, g_strdup_printf ("cannot resolve host %s: no address (DNS rcode %u)",
                                          p->host, rcode));
}

static void
on_dns_lookup (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) found = NULL;
  guint rcode = 0;

  found = ddr_dns_lookup_finish (res, &rcode, &error);
  if (p->done)
    return;
  if (found == NULL)
    {
      g_autofree char *list = g_strjoinv (", ", p->servers);

      probe_unknown (task, g_strdup_printf ("cannot resolve host %s through %s: %s", p->host,
                                            list, error->message));
      return;
    }
  if (take_addresses (p, (const char *const *) found))
    {
      start_transfer (task);
      return;
    }
  /* A first, then AAAA, unless the name does not exist at all (NXDOMAIN). */
  if (!p->asked_aaaa && rcode != 3)
    {
      p->asked_aaaa = TRUE;
      ddr_dns_lookup_async ((const char *const *) p->servers, p->host, QTYPE_AAAA,
                            remaining_ms (p), p->cancel, on_dns_lookup, g_object_ref (task));
      return;
    }
  no_address (task, rcode);
}

static void
on_resolved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GList *list = g_resolver_lookup_by_name_finish (G_RESOLVER (source), res, &error);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);

  if (p->done)
    {
      g_resolver_free_addresses (list);
      return;
    }
  if (list == NULL)
    {
      probe_unknown (task, g_strdup_printf ("cannot resolve host %s: %s", p->host,
                                            error->message));
      return;
    }
  for (GList *l = list; l != NULL; l = l->next)
    g_ptr_array_add (found, g_inet_address_to_string (l->data));
  g_ptr_array_add (found, NULL);
  g_resolver_free_addresses (list);
  if (take_addresses (p, (const char *const *) found->pdata))
    start_transfer (task);
  else
    no_address (task, 0);
}

static void
start_resolve (GTask *task)
{
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GInetAddress) literal = g_inet_address_new_from_string (p->host);

  /* A literal comes from the configuration, not from the network. */
  if (literal != NULL)
    {
      g_ptr_array_add (p->addresses, g_strdup (p->host));
      start_transfer (task);
    }
  else if (p->servers != NULL && p->servers[0] != NULL)
    ddr_dns_lookup_async ((const char *const *) p->servers, p->host, QTYPE_A, remaining_ms (p),
                          p->cancel, on_dns_lookup, g_object_ref (task));
  else
    {
      g_autoptr(GResolver) resolver = g_resolver_get_default ();

      g_resolver_lookup_by_name_async (resolver, p->host, p->cancel, on_resolved,
                                       g_object_ref (task));
    }
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

static gboolean
on_timeout (gpointer user_data)
{
  GTask *task = user_data;
  Probe *p = g_task_get_task_data (task);

  probe_unknown (task, g_strdup_printf ("no answer from %s within %u ms", p->host, p->timeout_ms));
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  GTask *task = user_data;
  Probe *p = g_task_get_task_data (task);

  p->caller_cancelled = TRUE;
  probe_unknown (task, g_strdup ("the probe was cancelled"));
  return G_SOURCE_REMOVE;
}

/* NULL when url is a usable http(s) URL, else why not. */
static char *
parse_url (Probe *p, const char *url)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GUri) uri = url ? g_uri_parse (url, G_URI_FLAGS_ENCODED, &error) : NULL;
  const char *scheme;

  if (uri == NULL)
    return g_strdup_printf ("invalid probe URL %s: %s", url ? url : "(none)",
                            error ? error->message : "no URL");
  scheme = g_uri_get_scheme (uri);
  if ((g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0)
      || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return g_strdup_printf ("probe URL %s is not an http://host/ URL", url);
  p->host = g_strdup (g_uri_get_host (uri));
  p->port = g_uri_get_port (uri) > 0 ? (guint16) g_uri_get_port (uri)
                                     : g_str_equal (scheme, "https") ? 443 : 80;
  return NULL;
}

void
ddr_portal_probe_async (const char          *url,
                        const char *const   *servers,
                        const char          *iface,
                        guint                timeout_ms,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  Probe *p = g_new0 (Probe, 1);
  char *bad;

  g_task_set_source_tag (task, ddr_portal_probe_async);
  g_task_set_task_data (task, p, (GDestroyNotify) probe_free);
  p->url = g_strdup (url);
  p->servers = g_strdupv ((char **) servers);
  p->iface = iface != NULL && *iface != '\0' ? g_strdup (iface) : NULL;
  p->timeout_ms = MAX (timeout_ms, 1);
  p->deadline_us = g_get_monotonic_time () + (gint64) p->timeout_ms * 1000;
  p->cancel = g_cancellable_new ();
  p->addresses = g_ptr_array_new_with_free_func (g_free);

  bad = parse_url (p, url);
  if (bad != NULL)
    {
      probe_unknown (task, bad);
      return;
    }
  /* The deadline and the caller's cancellation end the probe from the main loop. */
  p->timer = g_timeout_source_new (p->timeout_ms);
  g_task_attach_source (task, p->timer, on_timeout);
  if (cancellable != NULL)
    {
      p->cancel_source = g_cancellable_source_new (cancellable);
      g_task_attach_source (task, p->cancel_source, (GSourceFunc) (void (*) (void)) on_cancelled);
    }
  start_resolve (task);
}

DdrPortalResult
ddr_portal_probe_finish (GAsyncResult  *result,
                         char         **portal_url,
                         char         **detail)
{
  Verdict *v;
  DdrPortalResult r;

  g_return_val_if_fail (g_task_is_valid (result, NULL), DDR_PORTAL_UNKNOWN);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ddr_portal_probe_async,
                        DDR_PORTAL_UNKNOWN);
  v = g_task_propagate_pointer (G_TASK (result), NULL);
  r = v->result;
  if (portal_url != NULL)
    *portal_url = g_steal_pointer (&v->portal_url);
  if (detail != NULL)
    *detail = g_steal_pointer (&v->detail);
  verdict_free (v);
  return r;
}
