/* DoH client on libnghttp2 + OpenSSL (meson -Ddoh_engine=nghttp2): endpoints,
 * transfers and their results. The connections are in ddr-h2-conn.c.
 *
 * Every frame nghttp2 produces during one main-loop pass goes out in one
 * SSL_write from the "pump" source's prepare(), which GLib runs before each
 * poll, i.e. after every dispatch of the pass (shared/research/curl.md). */
#define G_LOG_DOMAIN "ddr-doh"

#include "config.h"

#include "ddr-h2-private.h"

#include <gio/gio.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DOH_MAX_IDLE_XFERS   1024
#define DOH_READ_BUF         (64 * 1024)

/* ---- endpoints ---- */

DdrDohEndpoint *
ddr_doh_endpoint_new (const char *url, GError **error)
{
  g_autoptr(DdrDohEndpoint) ep = g_new0 (DdrDohEndpoint, 1);
  const DdrDohUrl *u = &ep->url;

  if (!ddr_doh_url_parse (url, &ep->url, error))
    return NULL;
  ep->key = g_strconcat (u->host, ":", u->port, NULL);
  ep->authority = g_str_equal (u->port, "443") ? g_strdup (u->host) : g_strdup (ep->key);
  ep->post_path = u->query ? g_strconcat (u->path, "?", u->query, NULL) : g_strdup (u->path);
  return g_steal_pointer (&ep);
}

void
ddr_doh_endpoint_free (DdrDohEndpoint *ep)
{
  if (!ep)
    return;
  ddr_doh_url_clear (&ep->url);
  g_free (ep->key);
  g_free (ep->authority);
  g_free (ep->post_path);
  g_strfreev (ep->ips);
  g_free (ep);
}

void
ddr_doh_endpoint_set_addresses (DdrDohEndpoint *ep, const char *const *ips)
{
  g_strfreev (ep->ips);
  ep->ips = ddr_doh_url_pin_addresses (&ep->url, ips);
}

/* ---- transfers ---- */

static DdrDohTransfer *
transfer_new (DdrDohClient *c)
{
  DdrDohTransfer *t = g_new0 (DdrDohTransfer, 1);

  t->client = c;
  t->request = g_byte_array_sized_new (512);
  t->path = g_string_sized_new (256);
  t->body = g_byte_array_sized_new (1024);
  t->link.data = t;
  return t;
}

static void
transfer_free (DdrDohTransfer *t)
{
  g_byte_array_unref (t->request);
  g_string_free (t->path, TRUE);
  g_byte_array_unref (t->body);
  g_free (t);
}

static void
transfer_reset_response (DdrDohTransfer *t)
{
  g_byte_array_set_size (t->body, 0);
  t->http_status = 0;
  t->content_type_ok = FALSE;
  t->age_s = 0;
  t->stream_id = 0;
  t->request_off = 0;
}

static void
transfer_recycle (DdrDohClient *c, DdrDohTransfer *t)
{
  t->state = XFER_IDLE;
  t->conn = NULL;
  t->done = NULL;
  t->user_data = NULL;
  if (c->idle->len < DOH_MAX_IDLE_XFERS && t->body->len <= 4096)
    g_ptr_array_add (c->idle, t);
  else
    transfer_free (t);
}

void
ddr_h2_transfer_finish (DdrDohTransfer *t, DdrDohStatus status, gboolean reused,
                        const char *fmt, ...)
{
  DdrDohClient *c = t->client;

  g_assert (t->state != XFER_DONE);
  t->errbuf[0] = '\0';
  if (fmt)
    {
      va_list ap;

      va_start (ap, fmt);
      g_vsnprintf (t->errbuf, sizeof t->errbuf, fmt, ap);
      va_end (ap);
    }
  if (status == DDR_DOH_OK)
    {
      if (t->http_status != 200)
        {
          status = DDR_DOH_HTTP_STATUS;
          g_snprintf (t->errbuf, sizeof t->errbuf, "HTTP status %d", t->http_status);
        }
      else if (!t->content_type_ok)
        {
          status = DDR_DOH_BAD_RESPONSE;
          g_strlcpy (t->errbuf, "content-type is not application/dns-message",
                     sizeof t->errbuf);
        }
    }
  t->status = status;
  t->reused = status == DDR_DOH_TRANSPORT && reused;
  t->error = t->errbuf;
  t->conn = NULL;
  t->state = XFER_DONE;
  g_queue_push_tail_link (&c->done, &t->link);
}

void
ddr_h2_client_deliver (DdrDohClient *c)
{
  GList *l;

  /* a callback may start, cancel (also transfers in this queue) or drop */
  while ((l = g_queue_pop_head_link (&c->done)))
    {
      DdrDohTransfer *t = l->data;
      DdrDohResult r = { 0 };

      r.status = t->status;
      r.http_status = t->http_status;
      r.curl_code = 0;
      r.error = t->error ? t->error : "";
      r.age_s = t->age_s;
      r.connects = t->connects;
      r.reused = t->reused;
      r.primary_ip = t->ip[0] ? t->ip : NULL;
      if (t->status == DDR_DOH_OK)
        {
          r.body = t->body->data;
          r.body_len = t->body->len;
        }
      else
        g_debug ("transfer failed: %s, HTTP %d, %s connection",
                 r.error, t->http_status, t->reused ? "reused" : "new");
      t->state = XFER_IDLE;
      t->done (&r, t->user_data);
      transfer_recycle (c, t);
    }
}

void
ddr_h2_transfer_dispatch (DdrDohClient *c, DdrDohTransfer *t)
{
  DdrH2Conn *conn = NULL;

  for (GList *l = c->conns.head; l; l = l->next)
    if (ddr_h2_conn_usable (l->data, t->ep))
      {
        conn = l->data;
        break;
      }
  if (!conn)
    conn = ddr_h2_conn_new (c, t->ep);
  ddr_h2_conn_add (conn, t);
}

DdrDohTransfer *
ddr_doh_client_start (DdrDohClient *c, DdrDohEndpoint *ep,
                      const guint8 *query, gsize len,
                      DdrDohTransferDone done, gpointer user_data)
{
  DdrDohTransfer *t;

  g_return_val_if_fail (c && ep && query && done, NULL);
  if (len > DDR_DOH_MAX_BODY)
    return NULL;

  t = c->idle->len ? g_ptr_array_steal_index_fast (c->idle, c->idle->len - 1)
                   : transfer_new (c);
  transfer_reset_response (t);
  t->ep = ep;
  t->conn = NULL;
  t->waited = FALSE;
  t->connects = 0;
  t->ip[0] = '\0';
  t->error = NULL;
  if (c->method == DDR_DOH_METHOD_GET)
    {
      g_string_assign (t->path, ep->url.path);
      g_string_append_c (t->path, '?');
      ddr_doh_url_append_get_query (&ep->url, t->path, query, len);
    }
  else
    {
      g_byte_array_set_size (t->request, 0);
      g_byte_array_append (t->request, query, (guint) len);
      g_snprintf (t->content_length, sizeof t->content_length, "%" G_GSIZE_FORMAT, len);
    }
  t->done = done;
  t->user_data = user_data;
  t->state = XFER_QUEUED;
  /* a failure here is only queued: the pump delivers it from the loop */
  ddr_h2_transfer_dispatch (c, t);
  return t;
}

void
ddr_doh_client_cancel (DdrDohClient *c, DdrDohTransfer *t)
{
  g_return_if_fail (c && t);

  switch (t->state)
    {
    case XFER_QUEUED:
    case XFER_STREAM:
      ddr_h2_conn_remove (t->conn, t);
      break;
    case XFER_DONE:
      g_queue_unlink (&c->done, &t->link);
      break;
    case XFER_IDLE:
    default:
      g_return_if_reached ();
    }
  transfer_recycle (c, t);
}

static void
drop_all (DdrDohClient *c, GQueue *orphans)
{
  while (c->conns.head)
    ddr_h2_conn_drop (c->conns.head->data, orphans);
}

void
ddr_doh_client_drop_connections (DdrDohClient *c)
{
  GQueue orphans = G_QUEUE_INIT;
  GList *l;
  guint n;

  drop_all (c, &orphans);
  n = orphans.length;
  while ((l = g_queue_pop_head_link (&orphans)))
    {
      DdrDohTransfer *t = l->data;

      transfer_reset_response (t);
      t->waited = FALSE;
      ddr_h2_transfer_dispatch (c, t);
    }
  g_debug ("dropped every connection, %u transfer(s) restarted", n);
}

/* ---- the pump: one flush per loop pass, then due callbacks ---- */

typedef struct {
  GSource       source;
  DdrDohClient *client;
} PumpSource;

static gboolean
pump_prepare (GSource *source, gint *timeout)
{
  DdrDohClient *c = ((PumpSource *) source)->client;
  GList *next;

  for (GList *l = c->conns.head; l; l = next)
    {
      next = l->next;
      ddr_h2_conn_flush (l->data);   /* may close it (and fail its transfers) */
    }
  *timeout = -1;
  return c->done.length > 0;
}

static gboolean
pump_check (GSource *source)
{
  return ((PumpSource *) source)->client->done.length > 0;
}

static gboolean
pump_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  ddr_h2_client_deliver (((PumpSource *) source)->client);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs pump_funcs = {
  .prepare = pump_prepare,
  .check = pump_check,
  .dispatch = pump_dispatch,
};

static SSL_CTX *
ssl_ctx_new (const char *ca_file)
{
  static const unsigned char alpn[] = { 2, 'h', '2' };
  SSL_CTX *ctx = SSL_CTX_new (TLS_client_method ());

  if (!ctx)
    return NULL;
  SSL_CTX_set_min_proto_version (ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, NULL);
  if (ca_file)
    {
      if (SSL_CTX_load_verify_locations (ctx, ca_file, NULL) != 1)
        g_warning ("could not load CA file %s", ca_file);
    }
  else
    SSL_CTX_set_default_verify_paths (ctx);
  SSL_CTX_set_alpn_protos (ctx, alpn, sizeof alpn);
  /* whole records in one read(): safe here, as every SSL_read loops to WANT_READ */
  SSL_CTX_set_read_ahead (ctx, 1);
  SSL_CTX_set_mode (ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options (ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode (ctx, SSL_SESS_CACHE_OFF);
  ERR_clear_error ();
  return ctx;
}

DdrDohClient *
ddr_doh_client_new (const char *ca_file, DdrDohMethod method)
{
  DdrDohClient *c = g_new0 (DdrDohClient, 1);
  PumpSource *pump;

  c->method = method;
  c->ssl_ctx = ssl_ctx_new (ca_file);
  c->idle = g_ptr_array_new ();
  g_queue_init (&c->conns);
  g_queue_init (&c->done);
  c->rbuf_len = DOH_READ_BUF;
  c->rbuf = g_malloc (c->rbuf_len);
  c->user_agent = g_strdup ("threatstop-ddr/" PACKAGE_VERSION);

  pump = (PumpSource *) g_source_new (&pump_funcs, sizeof (PumpSource));
  pump->client = c;
  c->pump = &pump->source;
  /* prepared first, so the flush is never skipped for a ready source before it */
  g_source_set_priority (c->pump, G_PRIORITY_HIGH);
  g_source_set_static_name (c->pump, "ddr-h2-pump");
  g_source_attach (c->pump, g_main_context_get_thread_default ());
  return c;
}

void
ddr_doh_client_free (DdrDohClient *c)
{
  GQueue orphans = G_QUEUE_INIT;
  GList *l;

  if (!c)
    return;
  drop_all (c, &orphans);
  while ((l = g_queue_pop_head_link (&orphans)))
    transfer_free (l->data);
  while ((l = g_queue_pop_head_link (&c->done)))
    transfer_free (l->data);
  for (guint i = 0; i < c->idle->len; i++)
    transfer_free (c->idle->pdata[i]);
  g_ptr_array_unref (c->idle);
  g_source_destroy (c->pump);
  g_source_unref (c->pump);
  if (c->ssl_ctx)
    SSL_CTX_free (c->ssl_ctx);
  g_free (c->rbuf);
  g_free (c->user_agent);
  g_free (c);
}
