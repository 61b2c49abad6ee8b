/* Captive-portal probe: one bounded plain-HTTP/1.1 GET, its host resolved through given DNS servers. */
#define G_LOG_DOMAIN "ddr-portal-probe"

#include "ddr-portal-probe.h"
#include "ddr-dns-udp-client.h"
#include "ddr-portal-response.h"

#include <string.h>

#define MAX_RESPONSE DDR_PORTAL_MAX_RESPONSE
#define READ_CHUNK   (16 * 1024)
#define QTYPE_A      1
#define QTYPE_AAAA   28

typedef struct
{
  char         *url;
  GUri         *uri;
  char         *host;
  guint16       port;
  char        **servers;
  gint64        deadline_us;
  guint         timeout_ms;

  GCancellable *cancel;          /* ours: the timeout and the caller's cancellable */
  GCancellable *caller_cancel;
  gulong        caller_handler;
  GSource      *timer;
  gboolean      done;

  GPtrArray    *addresses;       /* GInetAddress* to try in order */
  guint         next_address;
  gboolean      asked_aaaa;
  char         *connect_error;
  GSocketClient *client;
  GSocketConnection *conn;
  char         *request;
  GByteArray   *response;
  guint8        chunk[READ_CHUNK];
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
probe_free (Probe *p)
{
  if (p->caller_cancel != NULL)
    g_cancellable_disconnect (p->caller_cancel, p->caller_handler);
  g_clear_object (&p->caller_cancel);
  if (p->timer != NULL)
    g_source_destroy (p->timer);
  g_clear_pointer (&p->timer, g_source_unref);
  g_clear_object (&p->cancel);
  g_free (p->url);
  g_clear_pointer (&p->uri, g_uri_unref);
  g_free (p->host);
  g_strfreev (p->servers);
  g_clear_pointer (&p->addresses, g_ptr_array_unref);
  g_free (p->connect_error);
  g_clear_object (&p->conn);
  g_clear_object (&p->client);
  g_free (p->request);
  g_clear_pointer (&p->response, g_byte_array_unref);
  g_free (p);
}

/* The one way out: every path ends here exactly once; later callbacks see done. */
static void
probe_return (GTask *task, DdrPortalResult result, const char *portal_url, char *detail)
{
  Probe *p = g_task_get_task_data (task);
  Verdict *v;

  if (p->done)
    {
      g_free (detail);
      return;
    }
  p->done = TRUE;
  if (p->timer != NULL)
    g_source_destroy (p->timer);
  /* Stops whatever is still running (resolver, connect, read). */
  g_cancellable_cancel (p->cancel);
  v = g_new0 (Verdict, 1);
  v->result = result;
  /* Never NULL: the probe URL unless a redirect named the portal. */
  v->portal_url = g_strdup (portal_url ? portal_url : p->url ? p->url : "");
  v->detail = detail;
  g_debug ("portal probe of %s: %s", p->url, detail);
  g_task_return_pointer (task, v, (GDestroyNotify) verdict_free);
}

/* Every failure path comes here; after the caller cancelled, that is what it says. */
static void
probe_unknown (GTask *task, char *detail)
{
  Probe *p = g_task_get_task_data (task);

  if (p->caller_cancel != NULL && g_cancellable_is_cancelled (p->caller_cancel))
    {
      g_free (detail);
      detail = g_strdup ("the probe was cancelled");
    }
  probe_return (task, DDR_PORTAL_UNKNOWN, NULL, detail);
}

/* The verdict once the response so far decides it; FALSE: read on. */
static gboolean
judge_response (GTask *task, Probe *p, gboolean eof)
{
  DdrPortalResult result;
  char *portal_url = NULL, *detail = NULL;

  if (!ddr_portal_judge_response (p->url, p->response->data, p->response->len, eof,
                                  &result, &portal_url, &detail))
    return FALSE;
  if (result == DDR_PORTAL_UNKNOWN)
    probe_unknown (task, detail);
  else
    probe_return (task, result, portal_url, detail);
  g_free (portal_url);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Connect, send, read                                                      */

static void read_more (GTask *task);

static void
on_read (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, &error);

  if (p->done)
    return;
  if (n < 0)
    {
      probe_unknown (task, g_strdup_printf ("cannot read the response from %s: %s", p->host,
                                            error->message));
      return;
    }
  g_byte_array_append (p->response, p->chunk, (guint) n);
  if (!judge_response (task, p, n == 0))
    read_more (task);
}

static void
read_more (GTask *task)
{
  Probe *p = g_task_get_task_data (task);
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (p->conn));
  gsize room = MAX_RESPONSE - p->response->len;

  g_input_stream_read_async (in, p->chunk, MIN (room, sizeof p->chunk), G_PRIORITY_DEFAULT,
                             p->cancel, on_read, g_object_ref (task));
}

static void
on_written (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL, &error))
    {
      if (!p->done)
        probe_unknown (task, g_strdup_printf ("cannot send the request to %s: %s", p->host,
                                              error->message));
      return;
    }
  if (!p->done)
    read_more (task);
}

static void connect_next (GTask *task);

static void
on_connected (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GSocketConnection *conn;
  GOutputStream *out;

  conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), res, &error);
  if (p->done)
    {
      g_clear_object (&conn);
      return;
    }
  if (conn == NULL)
    {
      g_free (p->connect_error);
      p->connect_error = g_strdup (error->message);
      connect_next (task);
      return;
    }
  p->conn = conn;
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  g_output_stream_write_all_async (out, p->request, strlen (p->request), G_PRIORITY_DEFAULT,
                                   p->cancel, on_written, g_object_ref (task));
}

static void
connect_next (GTask *task)
{
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GSocketAddress) address = NULL;

  if (p->next_address >= p->addresses->len)
    {
      probe_unknown (task, g_strdup_printf ("cannot connect to %s port %u: %s", p->host, p->port,
                                            p->connect_error ? p->connect_error
                                                             : "no address"));
      return;
    }
  address = g_inet_socket_address_new (p->addresses->pdata[p->next_address++], p->port);
  g_socket_client_connect_async (p->client, G_SOCKET_CONNECTABLE (address), p->cancel,
                                 on_connected, g_object_ref (task));
}

static void
start_connect (GTask *task)
{
  Probe *p = g_task_get_task_data (task);

  p->client = g_socket_client_new ();
  /* straight to the network: a configured HTTP proxy would hide the portal */
  g_socket_client_set_enable_proxy (p->client, FALSE);
  connect_next (task);
}

/* ------------------------------------------------------------------------ */
/* Resolving the host                                                       */

static guint
remaining_ms (Probe *p)
{
  gint64 left = p->deadline_us - g_get_monotonic_time ();

  return left > 1000 ? (guint) (left / 1000) : 1;
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
  for (guint i = 0; found[i] != NULL; i++)
    {
      GInetAddress *a = g_inet_address_new_from_string (found[i]);

      if (a != NULL)
        g_ptr_array_add (p->addresses, a);
    }
  if (p->addresses->len > 0)
    {
      start_connect (task);
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
  probe_unknown (task, g_strdup_printf ("cannot resolve host %s: no address (DNS rcode %u)",
                                        p->host, rcode));
}

static void
on_resolved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GList *list = g_resolver_lookup_by_name_finish (G_RESOLVER (source), res, &error);

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
    g_ptr_array_add (p->addresses, g_object_ref (l->data));
  g_resolver_free_addresses (list);
  start_connect (task);
}

static void
start_resolve (GTask *task)
{
  Probe *p = g_task_get_task_data (task);
  GInetAddress *literal = g_inet_address_new_from_string (p->host);

  if (literal != NULL)
    {
      g_ptr_array_add (p->addresses, literal);
      start_connect (task);
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

/* Runs in whatever thread cancels; only hands the cancellation on. */
static void
on_caller_cancelled (GCancellable *caller, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* NULL when url is a usable http:// URL, else why not. */
static char *
parse_url (Probe *p, const char *url)
{
  g_autoptr(GError) error = NULL;
  const char *path, *query;
  g_autofree char *host_header = NULL;

  p->uri = url ? g_uri_parse (url, G_URI_FLAGS_ENCODED, &error) : NULL;
  if (p->uri == NULL)
    return g_strdup_printf ("invalid probe URL %s: %s", url ? url : "(none)",
                            error ? error->message : "no URL");
  if (g_strcmp0 (g_uri_get_scheme (p->uri), "http") != 0 || g_uri_get_host (p->uri) == NULL
      || *g_uri_get_host (p->uri) == '\0')
    return g_strdup_printf ("probe URL %s is not an http://host/ URL", url);
  p->host = g_strdup (g_uri_get_host (p->uri));
  p->port = g_uri_get_port (p->uri) > 0 ? (guint16) g_uri_get_port (p->uri) : 80;
  path = g_uri_get_path (p->uri);
  query = g_uri_get_query (p->uri);
  host_header = strchr (p->host, ':') ? g_strdup_printf ("[%s]", p->host) : g_strdup (p->host);
  if (p->port != 80)
    {
      char *with_port = g_strdup_printf ("%s:%u", host_header, p->port);

      g_free (host_header);
      host_header = with_port;
    }
  p->request = g_strdup_printf ("GET %s%s%s HTTP/1.1\r\n"
                                "Host: %s\r\n"
                                "User-Agent: threatstop-ddr portal probe\r\n"
                                "Accept: */*\r\n"
                                "Cache-Control: no-cache\r\n"
                                "Connection: close\r\n"
                                "\r\n",
                                *path ? path : "/", query ? "?" : "", query ? query : "",
                                host_header);
  return NULL;
}

void
ddr_portal_probe_async (const char          *url,
                        const char *const   *servers,
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
  p->timeout_ms = MAX (timeout_ms, 1);
  p->deadline_us = g_get_monotonic_time () + (gint64) p->timeout_ms * 1000;
  p->cancel = g_cancellable_new ();
  p->addresses = g_ptr_array_new_with_free_func (g_object_unref);
  p->response = g_byte_array_new ();

  bad = parse_url (p, url);
  if (bad != NULL)
    {
      probe_unknown (task, bad);
      return;
    }

  /* The deadline and the caller's cancellation both end in our own cancellable, which
   * every pending operation uses: its callback, on the main loop, ends the probe. */
  p->timer = g_timeout_source_new (p->timeout_ms);
  g_task_attach_source (task, p->timer, on_timeout);
  if (cancellable != NULL)
    {
      p->caller_cancel = g_object_ref (cancellable);
      p->caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled),
                                                 g_object_ref (p->cancel), g_object_unref);
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
