/* DoH client (curl engine): transfers on one multi handle, reused easy handles, HTTP/2. */
#define G_LOG_DOMAIN "ddr-doh"

#include "config.h"

#include "ddr-doh-curl-private.h"

#include <gio/gio.h>
#include <string.h>

/* ---- transfers ---- */

static size_t
write_cb (char *data, size_t size, size_t n, void *userp)
{
  DdrDohTransfer *t = userp;
  size_t len = size * n;

  if (t->body->len + len > DDR_DOH_MAX_BODY)
    {
      t->too_big = TRUE;
      return 0;
    }
  g_byte_array_append (t->body, (const guint8 *) data, len);
  return len;
}

static gboolean
header_is (const char *line, size_t len, const char *name, const char **value, size_t *value_len)
{
  size_t nlen = strlen (name);
  const char *v, *end;

  if (len <= nlen || g_ascii_strncasecmp (line, name, nlen) != 0)
    return FALSE;
  v = line + nlen;
  end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *value = v;
  *value_len = (size_t) (end - v);
  return TRUE;
}

static size_t
header_cb (char *line, size_t size, size_t n, void *userp)
{
  DdrDohTransfer *t = userp;
  size_t len = size * n;
  const char *v;
  size_t vlen;

  if (len >= 5 && memcmp (line, "HTTP/", 5) == 0)
    {
      /* a new response (after 1xx): forget what the previous one said */
      t->age_s = 0;
    }
  else if (header_is (line, len, "age:", &v, &vlen))
    {
      guint64 age = 0;
      size_t i;

      for (i = 0; i < vlen && g_ascii_isdigit (v[i]); i++)
        age = MIN (age * 10 + (guint64) (v[i] - '0'), (guint64) G_MAXUINT32);
      t->age_s = (guint32) age;
    }
  return len;
}

/* content_type: libcurl's CURLINFO_CONTENT_TYPE, the final response's header (NULL
 * without one). Age has no such getter before curl_easy_header() (libcurl 7.84; our
 * floor is Ubuntu 22.04's 7.81), so header_cb still reads that one. */
static gboolean
is_dns_message (const char *content_type)
{
  static const char want[] = "application/dns-message";
  size_t n = sizeof want - 1;

  return content_type && g_ascii_strncasecmp (content_type, want, n) == 0 &&
         (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

static DdrDohTransfer *
transfer_new (DdrDohClient *c)
{
  DdrDohTransfer *t = g_new0 (DdrDohTransfer, 1);

  t->client = c;
  t->request = g_byte_array_new ();
  t->body = g_byte_array_sized_new (512);
  t->link.data = t;
  return t;
}

/* Easy handles are taken only when a transfer is handed to curl, so waiting
 * transfers cost a few hundred bytes, not a whole handle. */
static CURL *
easy_new (DdrDohClient *c)
{
  CURL *e = curl_easy_init ();

  if (!e)
    return NULL;
  /* Everything that never changes between requests is set once per handle. */
  curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (e, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt (e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt (e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt (e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt (e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt (e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (c->ca_file)
    curl_easy_setopt (e, CURLOPT_CAINFO, c->ca_file);
  curl_easy_setopt (e, CURLOPT_FOLLOWLOCATION, 0L);
  /* DNS goes straight to the service, never through a proxy named in the
   * environment (which curl would otherwise look up with getenv per request). */
  curl_easy_setopt (e, CURLOPT_PROXY, "");
  curl_easy_setopt (e, CURLOPT_MAXFILESIZE, (long) DDR_DOH_MAX_BODY);
  curl_easy_setopt (e, CURLOPT_MAXAGE_CONN, (long) DOH_IDLE_CONN_MAX_S);
  curl_easy_setopt (e, CURLOPT_USERAGENT, "threatstop-ddr/" PACKAGE_VERSION);
  curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (e, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (e, CURLOPT_HTTPHEADER, c->headers);
  /* curl's own trace on stderr, for debugging by hand (it includes URLs, never bodies) */
  if (g_getenv ("DDR_DOH_CURL_VERBOSE"))
    curl_easy_setopt (e, CURLOPT_VERBOSE, 1L);
  if (c->method == DDR_DOH_METHOD_GET)
    curl_easy_setopt (e, CURLOPT_HTTPGET, 1L);
  else
    curl_easy_setopt (e, CURLOPT_POST, 1L);
  return e;
}

static void
easy_release (DdrDohClient *c, DdrDohTransfer *t)
{
  if (!t->easy)
    return;
  if (c->idle_easy->len < DOH_MAX_IDLE_HANDLES)
    g_ptr_array_add (c->idle_easy, t->easy);
  else
    curl_easy_cleanup (t->easy);
  t->easy = NULL;
}

static void
transfer_free (DdrDohTransfer *t)
{
  if (t->easy)
    curl_easy_cleanup (t->easy);
  g_byte_array_unref (t->request);
  g_byte_array_unref (t->body);
  curl_url_cleanup (t->get_uh);
  g_free (t);
}

static void
transfer_reset_response (DdrDohTransfer *t)
{
  g_byte_array_set_size (t->body, 0);
  t->age_s = 0;
  t->too_big = FALSE;
}

static void
transfer_recycle (DdrDohClient *c, DdrDohTransfer *t)
{
  easy_release (c, t);
  t->done = NULL;
  t->user_data = NULL;
  if (c->idle->len < DOH_MAX_IDLE_HANDLES)
    g_ptr_array_add (c->idle, t);
  else
    transfer_free (t);
}

/* Errors of an exchange already under way. A failed connect also reports
 * NUM_CONNECTS 0, so that alone does not tell a reused connection. */
static gboolean
is_midstream_error (CURLcode rc)
{
  switch (rc)
    {
    case CURLE_OK:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Per-request options; RESOLVE too, as its entries go into the multi handle's
 * DNS cache, which a new multi handle (drop_connections) starts without. */
static void
transfer_setup_easy (DdrDohClient *c, DdrDohTransfer *t)
{
  CURL *e = t->easy;

  curl_easy_setopt (e, CURLOPT_PRIVATE, t);
  curl_easy_setopt (e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt (e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt (e, CURLOPT_RESOLVE, t->ep->resolve);
  if (c->method == DDR_DOH_METHOD_GET)
    curl_easy_setopt (e, CURLOPT_CURLU, t->get_uh);
  else
    {
      curl_easy_setopt (e, CURLOPT_CURLU, t->ep->uh);
      curl_easy_setopt (e, CURLOPT_POSTFIELDS, t->request->data);
      curl_easy_setopt (e, CURLOPT_POSTFIELDSIZE, (long) t->request->len);
    }
}

static gboolean
transfer_run (DdrDohClient *c, DdrDohTransfer *t)
{
  if (!t->easy)
    t->easy = c->idle_easy->len ? g_ptr_array_steal_index_fast (c->idle_easy, c->idle_easy->len - 1)
                                : easy_new (c);
  if (!t->easy)
    return FALSE;
  transfer_setup_easy (c, t);
  if (curl_multi_add_handle (c->multi, t->easy) != CURLM_OK)
    {
      easy_release (c, t);
      return FALSE;
    }
  t->waiting = FALSE;
  t->ep->running++;
  g_queue_push_tail_link (&c->active, &t->link);
  return TRUE;
}

static gboolean
can_run (DdrDohClient *c, DdrDohEndpoint *ep)
{
  return c->active.length < DOH_MAX_RUNNING && (ep->ready || ep->running == 0);
}

static void
run_waiting (DdrDohClient *c)
{
  GList *next;

  for (GList *l = c->waiting.head; l && c->active.length < DOH_MAX_RUNNING; l = next)
    {
      DdrDohTransfer *t = l->data;

      next = l->next;
      if (!can_run (c, t->ep))
        continue;
      g_queue_unlink (&c->waiting, &t->link);
      if (!transfer_run (c, t))
        {
          /* cannot happen short of running out of memory; report it like a failure */
          DdrDohResult r = { .status = DDR_DOH_TRANSPORT, .curl_code = CURLE_OUT_OF_MEMORY,
                             .error = "curl refused the transfer" };

          t->done (&r, t->user_data);
          transfer_recycle (c, t);
        }
    }
}

static void
transfer_finish (DdrDohClient *c, DdrDohTransfer *t, CURLcode rc)
{
  DdrDohResult r = { 0 };
  long connects = 0;
  char *ip = NULL;
  char *content_type = NULL;
  DdrDohTransferDone done = t->done;
  gpointer user_data = t->user_data;

  curl_easy_getinfo (t->easy, CURLINFO_RESPONSE_CODE, &r.http_status);
  curl_easy_getinfo (t->easy, CURLINFO_NUM_CONNECTS, &connects);
  curl_easy_getinfo (t->easy, CURLINFO_PRIMARY_IP, &ip);
  curl_easy_getinfo (t->easy, CURLINFO_CONTENT_TYPE, &content_type);
  r.curl_code = rc;
  r.error = rc == CURLE_OK ? "" : curl_easy_strerror (rc);
  r.connects = (guint) MAX (connects, 0);
  r.reused = connects == 0 && is_midstream_error (rc);
  r.primary_ip = ip && *ip ? ip : NULL;
  r.age_s = t->age_s;

  if (rc == CURLE_WRITE_ERROR && t->too_big)
    r.status = DDR_DOH_BAD_RESPONSE;
  else if (rc == CURLE_FILESIZE_EXCEEDED)
    r.status = DDR_DOH_BAD_RESPONSE;
  else if (rc != CURLE_OK)
    r.status = DDR_DOH_TRANSPORT;
  else if (r.http_status != 200)
    r.status = DDR_DOH_HTTP_STATUS;
  else if (!is_dns_message (content_type))
    r.status = DDR_DOH_BAD_RESPONSE;
  else
    {
      r.status = DDR_DOH_OK;
      r.body = t->body->data;
      r.body_len = t->body->len;
    }
  if (r.status != DDR_DOH_OK)
    g_debug ("transfer failed: curl %d (%s), HTTP %ld, %s connection",
             rc, r.error, r.http_status, r.reused ? "reused" : "new");

  curl_multi_remove_handle (c->multi, t->easy);
  g_queue_unlink (&c->active, &t->link);
  t->ep->running--;
  if (r.http_status > 0)
    t->ep->ready = TRUE;
  else if (rc != CURLE_OK)
    t->ep->ready = FALSE;
  /* The callback may start or cancel other transfers; this one is out of the way. */
  done (&r, user_data);
  transfer_recycle (c, t);
  run_waiting (c);
}

/* DdrCurlGlibRan: curl ran; hand finished transfers to their callbacks. */
static void
process_messages (gpointer user_data)
{
  DdrDohClient *c = user_data;
  CURLMsg *msg;
  int left;

  while ((msg = curl_multi_info_read (c->multi, &left)))
    {
      DdrDohTransfer *t = NULL;

      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
      transfer_finish (c, t, msg->data.result);
    }
}

/* HTTP/2: one multiplexed connection per host; more only churns (shared/research/curl.md). */
static void
multi_configure (CURLM *m)
{
  curl_multi_setopt (m, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
  curl_multi_setopt (m, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
  curl_multi_setopt (m, CURLMOPT_MAX_CONCURRENT_STREAMS, (long) DOH_MAX_STREAMS);
}

/* Out of the multi handle: every transfer handed to curl (they stay in c->active). */
static void
multi_detach_active (DdrDohClient *c)
{
  for (GList *l = c->active.head; l; l = l->next)
    curl_multi_remove_handle (c->multi, ((DdrDohTransfer *) l->data)->easy);
}

static gboolean
transfer_prepare_get (DdrDohTransfer *t, DdrDohEndpoint *ep, const guint8 *query, gsize len)
{
  g_autoptr(GString) q = g_string_sized_new (32 + len * 4 / 3);

  ddr_doh_url_append_get_query (&ep->url, q, query, len);
  if (t->get_ep != ep)
    {
      curl_url_cleanup (t->get_uh);
      t->get_uh = curl_url_dup (ep->uh);
      t->get_ep = ep;
    }
  return t->get_uh && curl_url_set (t->get_uh, CURLUPART_QUERY, q->str, 0) == CURLUE_OK;
}

DdrDohTransfer *
ddr_doh_client_start (DdrDohClient *c, DdrDohEndpoint *ep,
                      const guint8 *query, gsize len,
                      DdrDohTransferDone done, gpointer user_data)
{
  DdrDohTransfer *t;

  g_return_val_if_fail (c && ep && query && done, NULL);

  t = c->idle->len ? g_ptr_array_steal_index_fast (c->idle, c->idle->len - 1) : transfer_new (c);
  if (!t)
    return NULL;
  transfer_reset_response (t);

  t->ep = ep;
  if (c->method == DDR_DOH_METHOD_GET)
    {
      if (!transfer_prepare_get (t, ep, query, len))
        {
          transfer_recycle (c, t);
          return NULL;
        }
    }
  else
    {
      g_byte_array_set_size (t->request, 0);
      g_byte_array_append (t->request, query, (guint) len);
    }
  t->done = done;
  t->user_data = user_data;

  /* add_handle only arms the timer (timeout 0): curl starts from its dispatch,
   * so the callback can never run from here. */
  if (!can_run (c, ep))
    {
      t->waiting = TRUE;
      g_queue_push_tail_link (&c->waiting, &t->link);
    }
  else if (!transfer_run (c, t))
    {
      transfer_recycle (c, t);
      return NULL;
    }
  return t;
}

void
ddr_doh_client_cancel (DdrDohClient *c, DdrDohTransfer *t)
{
  g_return_if_fail (c && t);

  if (t->waiting)
    {
      g_queue_unlink (&c->waiting, &t->link);
      t->waiting = FALSE;
      transfer_recycle (c, t);
      return;
    }
  curl_multi_remove_handle (c->multi, t->easy);
  g_queue_unlink (&c->active, &t->link);
  t->ep->running--;
  transfer_recycle (c, t);
  run_waiting (c);
}

void
ddr_doh_client_drop_connections (DdrDohClient *c)
{
  guint n = c->active.length;

  multi_detach_active (c);
  c->multi = ddr_curl_glib_renew (c->loop);
  multi_configure (c->multi);
  for (GList *l = c->active.head; l; l = l->next)
    {
      DdrDohTransfer *t = l->data;

      transfer_reset_response (t);
      t->ep->ready = FALSE;
      curl_easy_setopt (t->easy, CURLOPT_RESOLVE, t->ep->resolve);
      if (curl_multi_add_handle (c->multi, t->easy) != CURLM_OK)
        g_warning ("could not restart a DoH transfer after dropping connections");
    }
  g_debug ("dropped every connection, %u transfer(s) restarted", n);
}

DdrDohClient *
ddr_doh_client_new (const char *ca_file, DdrDohMethod method)
{
  DdrDohClient *c;

  c = g_new0 (DdrDohClient, 1);
  c->ca_file = g_strdup (ca_file);
  c->method = method;
  c->idle = g_ptr_array_new ();
  c->idle_easy = g_ptr_array_new ();
  g_queue_init (&c->active);
  g_queue_init (&c->waiting);
  c->headers = curl_slist_append (NULL, "Accept: application/dns-message");
  if (method == DDR_DOH_METHOD_POST)
    c->headers = curl_slist_append (c->headers, "Content-Type: application/dns-message");

  c->loop = ddr_curl_glib_new ("ddr-doh", process_messages, c);
  c->multi = ddr_curl_glib_get_multi (c->loop);
  multi_configure (c->multi);
  return c;
}

void
ddr_doh_client_free (DdrDohClient *c)
{
  if (!c)
    return;
  multi_detach_active (c);
  g_clear_pointer (&c->loop, ddr_curl_glib_free);
  c->multi = NULL;
  while (c->active.head)
    {
      DdrDohTransfer *t = c->active.head->data;

      g_queue_unlink (&c->active, &t->link);
      transfer_free (t);
    }
  while (c->waiting.head)
    {
      DdrDohTransfer *t = c->waiting.head->data;

      g_queue_unlink (&c->waiting, &t->link);
      transfer_free (t);
    }
  for (guint i = 0; i < c->idle->len; i++)
    transfer_free (c->idle->pdata[i]);
  g_ptr_array_unref (c->idle);
  for (guint i = 0; i < c->idle_easy->len; i++)
    curl_easy_cleanup (c->idle_easy->pdata[i]);
  g_ptr_array_unref (c->idle_easy);
  curl_slist_free_all (c->headers);
  g_free (c->ca_file);
  g_free (c);
}
