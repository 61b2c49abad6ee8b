/* HTTP/2 on one connection for the nghttp2 DoH engine: the nghttp2 session,
 * requests (POST or GET) and what the responses carry. */
#define G_LOG_DOMAIN "ddr-doh"

#include "config.h"

#include "ddr-h2-private.h"

#include <string.h>

#define CONN_WINDOW        (16 * 1024 * 1024)

static int
on_header (nghttp2_session *session, const nghttp2_frame *frame,
           const uint8_t *name, size_t namelen, const uint8_t *value, size_t valuelen,
           uint8_t flags, void *user_data)
{
  DdrDohTransfer *t;

  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  t = nghttp2_session_get_stream_user_data (session, frame->hd.stream_id);
  if (!t)
    return 0;
  if (namelen == 7 && memcmp (name, ":status", 7) == 0)
    {
      int status = 0;

      for (size_t i = 0; i < valuelen && i < 3 && g_ascii_isdigit (value[i]); i++)
        status = status * 10 + (value[i] - '0');
      /* a new response (after 1xx): forget what the previous one said */
      t->http_status = status;
      t->content_type_ok = FALSE;
      t->age_s = 0;
    }
  else if (namelen == 12 && memcmp (name, "content-type", 12) == 0)
    {
      static const char want[] = "application/dns-message";
      size_t n = sizeof want - 1;

      t->content_type_ok = valuelen >= n &&
        g_ascii_strncasecmp ((const char *) value, want, n) == 0 &&
        (valuelen == n || value[n] == ';' || value[n] == ' ');
    }
  else if (namelen == 3 && memcmp (name, "age", 3) == 0)
    {
      guint64 age = 0;

      for (size_t i = 0; i < valuelen && g_ascii_isdigit (value[i]); i++)
        age = MIN (age * 10 + (guint64) (value[i] - '0'), (guint64) G_MAXUINT32);
      t->age_s = (guint32) age;
    }
  return 0;
}

static int
on_data_chunk (nghttp2_session *session, uint8_t flags, int32_t stream_id,
               const uint8_t *data, size_t len, void *user_data)
{
  DdrH2Conn *conn = user_data;
  DdrDohTransfer *t = nghttp2_session_get_stream_user_data (session, stream_id);

  if (!t)
    return 0;
  if (t->body->len + len > DDR_DOH_MAX_BODY)
    {
      nghttp2_session_set_stream_user_data (session, stream_id, NULL);
      nghttp2_submit_rst_stream (session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
      g_queue_unlink (&conn->streams, &t->link);
      ddr_h2_conn_take_credit (conn, t);
      ddr_h2_transfer_finish (t, DDR_DOH_BAD_RESPONSE, FALSE,
                              "response body above %d bytes", DDR_DOH_MAX_BODY);
      ddr_h2_conn_check_idle (conn);
      return 0;
    }
  g_byte_array_append (t->body, data, (guint) len);
  return 0;
}

static int
on_stream_close (nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                 void *user_data)
{
  DdrH2Conn *conn = user_data;
  DdrDohTransfer *t = nghttp2_session_get_stream_user_data (session, stream_id);

  if (!t)
    return 0;
  nghttp2_session_set_stream_user_data (session, stream_id, NULL);
  g_queue_unlink (&conn->streams, &t->link);
  ddr_h2_conn_take_credit (conn, t);
  if (error_code == NGHTTP2_NO_ERROR && t->http_status > 0)
    ddr_h2_transfer_finish (t, DDR_DOH_OK, FALSE, NULL);
  else if (error_code == NGHTTP2_NO_ERROR)
    ddr_h2_transfer_finish (t, DDR_DOH_TRANSPORT, !t->waited, "stream closed without a response");
  else
    /* REFUSED_STREAM (also for streams above a GOAWAY's last-stream-id): never
     * processed, safe to send again on a fresh connection */
    ddr_h2_transfer_finish (t, DDR_DOH_TRANSPORT,
                            !t->waited || error_code == NGHTTP2_REFUSED_STREAM,
                            "stream reset: %s", nghttp2_http2_strerror (error_code));
  ddr_h2_conn_check_idle (conn);
  return 0;
}

static int
on_frame_recv (nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
  DdrH2Conn *conn = user_data;

  if (frame->hd.type == NGHTTP2_GOAWAY)
    {
      g_debug ("GOAWAY from %s (%s, last stream %d)", conn->key,
               nghttp2_http2_strerror (frame->goaway.error_code), frame->goaway.last_stream_id);
      conn->draining = TRUE;
    }
  return 0;
}

static ssize_t
read_request (nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
              uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
  DdrDohTransfer *t = nghttp2_session_get_stream_user_data (session, stream_id);
  size_t n;

  if (!t)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  n = MIN (length, t->request->len - t->request_off);
  memcpy (buf, t->request->data + t->request_off, n);
  t->request_off += n;
  if (t->request_off == t->request->len)
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t) n;
}

gboolean
ddr_h2_session_setup (DdrH2Conn *conn)
{
  static nghttp2_session_callbacks *callbacks;
  nghttp2_settings_entry settings[] = {
    { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
    { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 },
  };

  if (!callbacks)
    {
      nghttp2_session_callbacks_new (&callbacks);
      nghttp2_session_callbacks_set_on_header_callback (callbacks, on_header);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback (callbacks, on_data_chunk);
      nghttp2_session_callbacks_set_on_stream_close_callback (callbacks, on_stream_close);
      nghttp2_session_callbacks_set_on_frame_recv_callback (callbacks, on_frame_recv);
    }
  if (nghttp2_session_client_new (&conn->h2, callbacks, conn) != 0)
    return FALSE;
  if (nghttp2_submit_settings (conn->h2, NGHTTP2_FLAG_NONE, settings,
                               G_N_ELEMENTS (settings)) != 0)
    return FALSE;
  nghttp2_session_set_local_window_size (conn->h2, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
  return TRUE;
}

#define NV_CONST(n, v) \
  { (uint8_t *) (n), (uint8_t *) (v), sizeof (n) - 1, sizeof (v) - 1, \
    NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE }
#define NV(n, v, vlen, fl) \
  { (uint8_t *) (n), (uint8_t *) (v), sizeof (n) - 1, (vlen), NGHTTP2_NV_FLAG_NO_COPY_NAME | (fl) }

void
ddr_h2_conn_submit (DdrH2Conn *conn, DdrDohTransfer *t)
{
  DdrDohClient *c = conn->client;
  const DdrDohEndpoint *ep = t->ep;
  gboolean post = c->method != DDR_DOH_METHOD_GET;
  const char *path = post ? ep->post_path : t->path->str;
  nghttp2_data_provider prd = { .read_callback = read_request };
  nghttp2_nv nva[] = {
    post ? (nghttp2_nv) NV_CONST (":method", "POST") : (nghttp2_nv) NV_CONST (":method", "GET"),
    NV_CONST (":scheme", "https"),
    NV (":authority", ep->authority, strlen (ep->authority), 0),
    /* GET paths are unique: keep them out of the HPACK table */
    NV (":path", path, strlen (path), post ? 0 : NGHTTP2_NV_FLAG_NO_INDEX),
    NV_CONST ("accept", "application/dns-message"),
    NV ("user-agent", c->user_agent, strlen (c->user_agent), 0),
    NV_CONST ("content-type", "application/dns-message"),
    NV ("content-length", t->content_length, strlen (t->content_length), 0),
  };
  int32_t id;

  t->conn = conn;
  t->request_off = 0;
  id = nghttp2_submit_request (conn->h2, NULL, nva, post ? G_N_ELEMENTS (nva) : 6,
                               post ? &prd : NULL, t);
  if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE)
    {
      /* like a GOAWAY: this one takes no more; the transfer goes on a new one */
      conn->draining = TRUE;
      t->conn = NULL;
      ddr_h2_transfer_dispatch (c, t);
      return;
    }
  if (id < 0)
    {
      t->conn = NULL;
      ddr_h2_transfer_finish (t, DDR_DOH_TRANSPORT, FALSE, "HTTP/2 request refused: %s",
                              nghttp2_strerror (id));
      return;
    }
  t->stream_id = id;
  t->state = XFER_STREAM;
  g_queue_push_tail_link (&conn->streams, &t->link);
}

