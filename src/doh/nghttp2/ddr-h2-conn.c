/* One TLS + HTTP/2 connection per host:port for the nghttp2 DoH engine, once up
 * (ddr-h2-connect.c brings it up): streams multiplexed by nghttp2, batched writes
 * (ddr_h2_conn_flush, once per loop pass) and reads to WANT_READ. */
#define G_LOG_DOMAIN "ddr-doh"

#include "config.h"

#include "ddr-h2-private.h"
#include "ddr-deadline-source.h"

#include <errno.h>
#include <gio/gio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONN_IDLE_MAX_US   (60 * G_USEC_PER_SEC)   /* closed, never pinged */

struct _ConnSource {
  GSource    source;
  DdrH2Conn *conn;
  gpointer   tag;
};

static gboolean conn_write (DdrH2Conn *conn);

/* ---- teardown ---- */

static void
conn_free (DdrH2Conn *conn)
{
  DdrDohClient *c = conn->client;

  if (conn->link.data)
    g_queue_unlink (&c->conns, &conn->link);
  conn->link.data = NULL;
  conn->state = C_CLOSED;
  if (conn->resolve)
    {
      conn->resolve->conn = NULL;
      g_cancellable_cancel (conn->resolve->cancel);
      conn->resolve = NULL;
    }
  g_clear_pointer (&conn->h2, nghttp2_session_del);
  g_clear_pointer (&conn->ssl, SSL_free);
  ddr_h2_conn_close_fd (conn);
  ddr_deadline_source_free (conn->idle_timer);
  g_byte_array_unref (conn->out);
  g_strfreev (conn->addrs);
  g_free (conn->key);
  g_free (conn->host);
  g_free (conn->port);
  g_free (conn);
}

void
ddr_h2_conn_take_credit (DdrH2Conn *conn, DdrDohTransfer *t)
{
  if (conn->connect_credit)
    {
      t->connects++;
      conn->connect_credit = FALSE;
    }
  g_strlcpy (t->ip, conn->ip, sizeof t->ip);
}

/* Close and fail every transfer on it (a stream on an established connection
 * died there: reused, so the pool retries it once on a new one). */
void
ddr_h2_conn_fail (DdrH2Conn *conn, const char *fmt, ...)
{
  char msg[128];
  GList *l;
  va_list ap;

  va_start (ap, fmt);
  g_vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  g_debug ("connection to %s closed: %s", conn->key, msg);
  conn->state = C_CLOSED;
  while ((l = g_queue_pop_head_link (&conn->streams)))
    {
      DdrDohTransfer *t = l->data;

      ddr_h2_conn_take_credit (conn, t);
      ddr_h2_transfer_finish (t, DDR_DOH_TRANSPORT, !t->waited, "%s", msg);
    }
  while ((l = g_queue_pop_head_link (&conn->queued)))
    {
      DdrDohTransfer *t = l->data;

      ddr_h2_conn_take_credit (conn, t);
      ddr_h2_transfer_finish (t, DDR_DOH_TRANSPORT, FALSE, "%s", msg);
    }
  conn_free (conn);
}

void
ddr_h2_conn_drop (DdrH2Conn *conn, GQueue *orphans)
{
  GList *l;

  /* the connect still happened: count it on a transfer that was on it */
  if (conn->connect_credit && (conn->streams.head || conn->queued.head))
    ddr_h2_conn_take_credit (conn, conn->streams.head ? conn->streams.head->data : conn->queued.head->data);
  while ((l = g_queue_pop_head_link (&conn->streams)))
    {
      ((DdrDohTransfer *) l->data)->conn = NULL;
      g_queue_push_tail_link (orphans, l);
    }
  while ((l = g_queue_pop_head_link (&conn->queued)))
    {
      ((DdrDohTransfer *) l->data)->conn = NULL;
      g_queue_push_tail_link (orphans, l);
    }
  conn_free (conn);
}

void
ddr_h2_conn_check_idle (DdrH2Conn *conn)
{
  if (conn->streams.length == 0 && conn->queued.length == 0)
    ddr_deadline_source_set (conn->idle_timer, g_get_monotonic_time () + CONN_IDLE_MAX_US);
  else
    ddr_deadline_source_set (conn->idle_timer, -1);
}

static void
conn_idle_fire (gpointer user_data)
{
  DdrH2Conn *conn = user_data;

  if (conn->streams.length || conn->queued.length)
    return;
  g_debug ("closing the idle connection to %s", conn->key);
  if (conn->state == C_READY)
    {
      /* GOAWAY, best effort: the write closes it once the session has ended */
      nghttp2_session_terminate_session (conn->h2, NGHTTP2_NO_ERROR);
      if (!conn_write (conn))
        return;
    }
  conn_free (conn);
}

/* ---- fd watch: POLLIN always, POLLOUT only while something waits to be written ---- */

void
ddr_h2_conn_set_cond (DdrH2Conn *conn, GIOCondition cond)
{
  if (conn->cond == cond)
    return;
  conn->cond = cond;
  g_source_modify_unix_fd (&conn->src->source, conn->src->tag, cond);
}

static gboolean conn_dispatch (GSource *source, GSourceFunc callback, gpointer user_data);
static GSourceFuncs conn_funcs = { .dispatch = conn_dispatch };

void
ddr_h2_conn_watch (DdrH2Conn *conn, GIOCondition cond)
{
  ConnSource *s = (ConnSource *) g_source_new (&conn_funcs, sizeof (ConnSource));

  s->conn = conn;
  s->tag = g_source_add_unix_fd (&s->source, conn->fd, cond);
  conn->cond = cond;
  conn->src = s;
  g_source_set_static_name (&s->source, "ddr-h2-conn");
  g_source_attach (&s->source, g_main_context_get_thread_default ());
}

void
ddr_h2_conn_close_fd (DdrH2Conn *conn)
{
  if (conn->src)
    {
      g_source_destroy (&conn->src->source);
      g_source_unref (&conn->src->source);
      conn->src = NULL;
    }
  if (conn->fd >= 0)
    close (conn->fd);
  conn->fd = -1;
}

/* ---- TLS errors ---- */

const char *
ddr_h2_conn_ssl_error_text (DdrH2Conn *conn, int rc, char *buf, gsize len)
{
  int err = SSL_get_error (conn->ssl, rc);
  unsigned long e = ERR_peek_last_error ();
  long vr = SSL_get_verify_result (conn->ssl);

  if (vr != X509_V_OK)
    g_snprintf (buf, len, "certificate verification failed: %s",
                X509_verify_cert_error_string (vr));
  else if (e)
    g_snprintf (buf, len, "TLS error: %s", ERR_reason_error_string (e));
  else if (err == SSL_ERROR_SYSCALL && errno)
    g_snprintf (buf, len, "%s", g_strerror (errno));
  else if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL)
    g_snprintf (buf, len, "connection closed by the server");
  else
    g_snprintf (buf, len, "TLS error %d", err);
  ERR_clear_error ();
  return buf;
}

/* ---- I/O ---- */

/* FALSE if the connection was closed. */
static gboolean
conn_write (DdrH2Conn *conn)
{
  const uint8_t *data;
  ssize_t n;
  int rc;

  while ((n = nghttp2_session_mem_send (conn->h2, &data)) > 0)
    g_byte_array_append (conn->out, data, (guint) n);
  if (n < 0)
    {
      ddr_h2_conn_fail (conn, "HTTP/2 error: %s", nghttp2_strerror ((int) n));
      return FALSE;
    }
  if (conn->out->len > conn->out_off)
    {
      ERR_clear_error ();
      errno = 0;
      rc = SSL_write (conn->ssl, conn->out->data + conn->out_off,
                      (int) (conn->out->len - conn->out_off));
      if (rc > 0)
        conn->out_off += (gsize) rc;
      else
        {
          int err = SSL_get_error (conn->ssl, rc);
          char buf[128];

          if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ)
            {
              ddr_h2_conn_fail (conn, "write to %s failed: %s", conn->key,
                         ddr_h2_conn_ssl_error_text (conn, rc, buf, sizeof buf));
              return FALSE;
            }
        }
    }
  if (conn->out_off == conn->out->len)
    {
      g_byte_array_set_size (conn->out, 0);
      conn->out_off = 0;
      ddr_h2_conn_set_cond (conn, G_IO_IN);
    }
  else
    ddr_h2_conn_set_cond (conn, G_IO_IN | G_IO_OUT);
  if (!nghttp2_session_want_read (conn->h2) && !nghttp2_session_want_write (conn->h2) &&
      conn->out->len == 0)
    {
      ddr_h2_conn_fail (conn, "HTTP/2 session with %s ended", conn->key);
      return FALSE;
    }
  return TRUE;
}

void
ddr_h2_conn_flush (DdrH2Conn *conn)
{
  if (conn->state != C_READY)
    return;
  if (conn->out->len == 0 && !nghttp2_session_want_write (conn->h2))
    return;
  conn_write (conn);
}

static gboolean
conn_read (DdrH2Conn *conn)
{
  DdrDohClient *c = conn->client;
  char buf[128];

  for (;;)
    {
      int n, err;

      ERR_clear_error ();
      errno = 0;
      n = SSL_read (conn->ssl, c->rbuf, (int) c->rbuf_len);
      if (n > 0)
        {
          ssize_t rv = nghttp2_session_mem_recv (conn->h2, c->rbuf, (size_t) n);

          if (rv < 0)
            {
              ddr_h2_conn_fail (conn, "HTTP/2 error from %s: %s", conn->key,
                         nghttp2_strerror ((int) rv));
              return FALSE;
            }
          continue;
        }
      err = SSL_get_error (conn->ssl, n);
      if (err == SSL_ERROR_WANT_READ)
        break;
      if (err == SSL_ERROR_WANT_WRITE)
        {
          ddr_h2_conn_set_cond (conn, G_IO_IN | G_IO_OUT);
          break;
        }
      ddr_h2_conn_fail (conn, "read from %s: %s", conn->key, ddr_h2_conn_ssl_error_text (conn, n, buf, sizeof buf));
      return FALSE;
    }
  if (!nghttp2_session_want_read (conn->h2) && !nghttp2_session_want_write (conn->h2))
    {
      ddr_h2_conn_fail (conn, "HTTP/2 session with %s ended", conn->key);
      return FALSE;
    }
  return TRUE;
}

static gboolean
conn_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  ConnSource *s = (ConnSource *) source;
  DdrH2Conn *conn = s->conn;
  DdrDohClient *c = conn->client;
  GIOCondition cond = g_source_query_unix_fd (source, s->tag);

  switch (conn->state)
    {
    case C_CONNECTING:
      if (cond & (G_IO_OUT | G_IO_ERR | G_IO_HUP))
        ddr_h2_connect_finish (conn);
      break;
    case C_HANDSHAKE:
      ddr_h2_connect_handshake (conn);
      break;
    case C_READY:
      /* on POLLOUT too: an SSL_read may have been waiting to write */
      if (!conn_read (conn))
        break;
      if ((cond & G_IO_OUT) && (conn->cond & G_IO_OUT))
        conn_write (conn);
      break;
    default:
      break;
    }
  /* the connection may be gone: only the client from here on */
  ddr_h2_client_deliver (c);
  return G_SOURCE_CONTINUE;
}

/* ---- the client's side ---- */

DdrH2Conn *
ddr_h2_conn_new (DdrDohClient *c, DdrDohEndpoint *ep)
{
  DdrH2Conn *conn = g_new0 (DdrH2Conn, 1);

  conn->client = c;
  conn->key = g_strdup (ep->key);
  conn->host = g_strdup (ep->url.bare_host);
  conn->port = g_strdup (ep->url.port);
  conn->host_is_ip = ep->url.host_is_ip;
  if (ep->url.host_is_ip)
    {
      conn->addrs = g_new0 (char *, 2);
      conn->addrs[0] = g_strdup (ep->url.bare_host);
    }
  else if (ep->ips)
    conn->addrs = g_strdupv (ep->ips);
  conn->fd = -1;
  conn->out = g_byte_array_sized_new (16384);
  conn->idle_timer = ddr_deadline_source_new ("ddr-h2-idle", conn_idle_fire, conn);
  conn->link.data = conn;
  g_queue_push_tail_link (&c->conns, &conn->link);
  return conn;
}

gboolean
ddr_h2_conn_usable (DdrH2Conn *conn, const DdrDohEndpoint *ep)
{
  return !conn->draining && conn->state != C_CLOSED && strcmp (conn->key, ep->key) == 0;
}

void
ddr_h2_conn_add (DdrH2Conn *conn, DdrDohTransfer *t)
{
  ddr_deadline_source_set (conn->idle_timer, -1);
  if (conn->state == C_READY)
    {
      t->waited = FALSE;
      ddr_h2_conn_submit (conn, t);
      return;
    }
  t->waited = TRUE;
  t->conn = conn;
  t->state = XFER_QUEUED;
  g_queue_push_tail_link (&conn->queued, &t->link);
  if (conn->state == C_NEW)
    ddr_h2_connect_start (conn);   /* may fail it at once: the failure is only queued */
}

void
ddr_h2_conn_remove (DdrH2Conn *conn, DdrDohTransfer *t)
{
  if (t->state == XFER_QUEUED)
    g_queue_unlink (&conn->queued, &t->link);
  else
    {
      g_queue_unlink (&conn->streams, &t->link);
      nghttp2_session_set_stream_user_data (conn->h2, t->stream_id, NULL);
      /* goes out with the next flush (or cancels a request not yet sent) */
      nghttp2_submit_rst_stream (conn->h2, NGHTTP2_FLAG_NONE, t->stream_id, NGHTTP2_CANCEL);
    }
  t->conn = NULL;
  ddr_h2_conn_check_idle (conn);
}
