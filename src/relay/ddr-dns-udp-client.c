/* Plain DNS over UDP (TCP when the answer is truncated) to the network's own DNS servers. */
#define G_LOG_DOMAIN "ddr-dns-udp"

#include "config.h"

#include <string.h>
#include <sys/random.h>

#include "ddr-dns-udp-client.h"
#include "ddr-dns-query.h"
#include "ddr-dns-wire.h"

#define SERVER_FORM "expected an IP address with an optional port, such as 192.168.1.1, " \
                    "127.0.0.1:5353, fe80::1%%eth0 or [::1]:5353"

typedef struct {
  GTask             *task;          /* not a reference: the task owns this */
  GPtrArray         *servers;       /* GInetSocketAddress, in order */
  guint              cur;           /* the server being tried */
  guint8            *query;         /* our copy, with our ID */
  gsize              len;
  guint16            caller_id;
  DdrDnsInfo         qinfo;         /* the query's parse, with our ID */
  guint              timeout_ms;
  GSocket           *socket;        /* the UDP attempt */
  GSource           *recv_source;
  GSource           *timer;
  GSource           *cancel_source;
  GSocketClient     *tcp_client;    /* the TCP attempt (after TC) */
  GSocketConnection *conn;
  GCancellable      *tcp_cancel;
  guint8             tcp_len[2];
  guint8            *buf;           /* DDR_DNS_MAX_MSG bytes */
  GBytes            *fallback;      /* a SERVFAIL/REFUSED answer kept while others are tried */
  char              *last_error;
  gboolean           done;
} UdpQuery;

static void
stop_attempt (UdpQuery *q)
{
  if (q->recv_source)
    g_source_destroy (q->recv_source);
  g_clear_pointer (&q->recv_source, g_source_unref);
  if (q->timer)
    g_source_destroy (q->timer);
  g_clear_pointer (&q->timer, g_source_unref);
  if (q->socket)
    g_socket_close (q->socket, NULL);
  g_clear_object (&q->socket);
  if (q->tcp_cancel)
    g_cancellable_cancel (q->tcp_cancel);
  g_clear_object (&q->tcp_cancel);
  g_clear_object (&q->tcp_client);
  g_clear_object (&q->conn);
}

static void
udp_query_free (gpointer data)
{
  UdpQuery *q = data;

  stop_attempt (q);
  if (q->cancel_source)
    g_source_destroy (q->cancel_source);
  g_clear_pointer (&q->cancel_source, g_source_unref);
  g_clear_pointer (&q->servers, g_ptr_array_unref);
  g_clear_pointer (&q->fallback, g_bytes_unref);
  g_free (q->query);
  g_free (q->buf);
  g_free (q->last_error);
  g_free (q);
}

/* Completes the task (answer or error) and drops the reference the query held. */
static void
finish (UdpQuery *q, GBytes *answer, GError *error)
{
  GTask *task = q->task;

  q->done = TRUE;
  stop_attempt (q);
  if (q->cancel_source)
    g_source_destroy (q->cancel_source);
  if (answer)
    g_task_return_pointer (task, answer, (GDestroyNotify) g_bytes_unref);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

static void try_server (UdpQuery *q);

static void
server_failed (UdpQuery *q, const char *why)
{
  g_autofree char *addr = g_socket_connectable_to_string (g_ptr_array_index (q->servers, q->cur));

  g_debug ("DNS server %s: %s", addr, why);
  g_free (q->last_error);
  q->last_error = g_strdup_printf ("%s: %s", addr, why);
  stop_attempt (q);
  q->cur++;
  try_server (q);
}

/* An answer from the current server: returned to the caller, or kept while the
 * next server is asked when it says the server could not help. */
static void
accept_answer (UdpQuery *q, const guint8 *msg, gsize len, const DdrDnsInfo *rinfo)
{
  guint8 *copy = g_memdup2 (msg, len);
  GBytes *answer;
  guint rcode = DDR_DNS_RCODE (rinfo->flags);

  ddr_dns_set_id (copy, q->caller_id);
  answer = g_bytes_new_take (copy, len);
  if ((rcode == DDR_DNS_RCODE_SERVFAIL || rcode == DDR_DNS_RCODE_REFUSED ||
       rcode == DDR_DNS_RCODE_NOTIMP) && q->cur + 1 < q->servers->len)
    {
      g_clear_pointer (&q->fallback, g_bytes_unref);
      q->fallback = answer;
      server_failed (q, rcode == DDR_DNS_RCODE_REFUSED ? "REFUSED" : "SERVFAIL or NOTIMP");
      return;
    }
  finish (q, answer, NULL);
}

/* The checks an answer must pass: ours by ID and question, a response. */
static gboolean
matches (UdpQuery *q, const guint8 *msg, gsize len, DdrDnsInfo *rinfo)
{
  if (ddr_dns_parse_response (msg, len, rinfo) != DDR_DNS_OK)
    return FALSE;
  return rinfo->id == q->qinfo.id && ddr_dns_same_question (&q->qinfo, rinfo);
}

static gboolean
on_timeout (gpointer user_data)
{
  UdpQuery *q = user_data;

  server_failed (q, "no answer in time");
  return G_SOURCE_REMOVE;
}

static void
arm_timer (UdpQuery *q)
{
  if (q->timer)
    g_source_destroy (q->timer);
  g_clear_pointer (&q->timer, g_source_unref);
  q->timer = g_timeout_source_new (q->timeout_ms);
  g_source_set_callback (q->timer, on_timeout, q, NULL);
  g_source_attach (q->timer, g_task_get_context (q->task));
}

/* ---- TCP (RFC 7766), only after a truncated UDP answer ---- */

static gboolean
tcp_current (UdpQuery *q, GObject *source, GAsyncResult *res, GError *error)
{
  /* A stale attempt (timed out, superseded) or a finished query: drop it. */
  if (q->done || (!q->conn && source != G_OBJECT (q->tcp_client)) ||
      (q->conn && source != G_OBJECT (g_io_stream_get_input_stream (G_IO_STREAM (q->conn))) &&
       source != G_OBJECT (g_io_stream_get_output_stream (G_IO_STREAM (q->conn)))))
    return FALSE;
  (void) res;
  if (error)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        server_failed (q, error->message);
      return FALSE;
    }
  return TRUE;
}

static void
on_tcp_body (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  UdpQuery *q = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gsize n = 0;
  DdrDnsInfo rinfo;

  g_input_stream_read_all_finish (G_INPUT_STREAM (source), res, &n, &error);
  if (!tcp_current (q, source, res, error))
    return;
  if (n != ddr_dns_get16 (q->tcp_len))
    server_failed (q, "connection closed in the middle of the answer");
  else if (!matches (q, q->buf, n, &rinfo))
    server_failed (q, "the TCP answer does not match the query");
  else
    accept_answer (q, q->buf, n, &rinfo);
}

static void
on_tcp_length (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  UdpQuery *q = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gsize n = 0;
  guint16 want;

  g_input_stream_read_all_finish (G_INPUT_STREAM (source), res, &n, &error);
  if (!tcp_current (q, source, res, error))
    return;
  want = ddr_dns_get16 (q->tcp_len);
  if (n != 2 || want < DDR_DNS_HEADER_LEN)
    {
      server_failed (q, "the TCP answer is too short");
      return;
    }
  g_input_stream_read_all_async (G_INPUT_STREAM (source), q->buf, want, G_PRIORITY_DEFAULT,
                                 q->tcp_cancel, on_tcp_body, g_object_ref (task));
}

static void
on_tcp_written (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  UdpQuery *q = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL, &error);
  if (!tcp_current (q, source, res, error))
    return;
  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (q->conn)),
                                 q->tcp_len, 2, G_PRIORITY_DEFAULT, q->tcp_cancel,
                                 on_tcp_length, g_object_ref (task));
}

static void
on_tcp_connected (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  UdpQuery *q = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) conn = NULL;
  guint8 *frame;

  conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), res, &error);
  if (!tcp_current (q, source, res, error))
    return;
  q->conn = g_steal_pointer (&conn);
  /* One write for length and message, kept alive by the task's data. */
  frame = q->buf;
  ddr_dns_put16 (frame, (guint16) q->len);
  memcpy (frame + 2, q->query, q->len);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (q->conn)),
                                   frame, q->len + 2, G_PRIORITY_DEFAULT, q->tcp_cancel,
                                   on_tcp_written, g_object_ref (task));
}

static void
start_tcp (UdpQuery *q)
{
  GSocketConnectable *server = g_ptr_array_index (q->servers, q->cur);

  g_debug ("truncated answer over UDP; asking again over TCP");
  if (q->recv_source)
    g_source_destroy (q->recv_source);
  g_clear_pointer (&q->recv_source, g_source_unref);
  g_socket_close (q->socket, NULL);
  g_clear_object (&q->socket);
  q->tcp_client = g_socket_client_new ();
  q->tcp_cancel = g_cancellable_new ();
  arm_timer (q);   /* the TCP attempt gets a full timeout of its own */
  g_socket_client_connect_async (q->tcp_client, server, q->tcp_cancel, on_tcp_connected,
                                 g_object_ref (q->task));
}

/* ---- UDP ---- */

static gboolean
on_udp_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  UdpQuery *q = user_data;
  GInetSocketAddress *server = g_ptr_array_index (q->servers, q->cur);

  (void) condition;
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocketAddress) from = NULL;
      DdrDnsInfo rinfo;
      gssize n = g_socket_receive_from (socket, &from, (char *) q->buf, DDR_DNS_MAX_MSG, NULL, &error);

      if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;
          /* ICMP port unreachable and friends on the connected socket. */
          server_failed (q, error->message);
          return G_SOURCE_REMOVE;
        }
      /* The socket is connected, so the kernel filters senders; check anyway. */
      if (!G_IS_INET_SOCKET_ADDRESS (from) ||
          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from)) !=
            g_inet_socket_address_get_port (server) ||
          !g_inet_address_equal (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)),
                                 g_inet_socket_address_get_address (server)) ||
          !matches (q, q->buf, (gsize) n, &rinfo))
        {
          g_debug ("ignoring a datagram that is not the answer to our query");
          continue;
        }
      if (rinfo.flags & DDR_DNS_FLAG_TC)
        {
          start_tcp (q);
          return G_SOURCE_REMOVE;
        }
      accept_answer (q, q->buf, (gsize) n, &rinfo);
      return G_SOURCE_REMOVE;
    }
}

static void
try_server (UdpQuery *q)
{
  GInetSocketAddress *server;
  g_autoptr(GError) error = NULL;
  guint16 id;

  if (q->cur >= q->servers->len)
    {
      if (q->fallback)
        finish (q, g_steal_pointer (&q->fallback), NULL);
      else
        finish (q, NULL, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                      "no DNS server answered (%s)",
                                      q->last_error ? q->last_error : "none tried"));
      return;
    }
  server = g_ptr_array_index (q->servers, q->cur);

  /* A fresh random ID and a fresh socket (a fresh random source port) per try. */
  if (getrandom (&id, sizeof id, 0) != sizeof id)
    id = (guint16) g_random_int ();
  q->qinfo.id = id;
  ddr_dns_set_id (q->query, id);

  q->socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (server)),
                            G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  if (q->socket)
    g_socket_set_blocking (q->socket, FALSE);
  if (!q->socket || !g_socket_connect (q->socket, G_SOCKET_ADDRESS (server), NULL, &error) ||
      g_socket_send (q->socket, (const char *) q->query, q->len, NULL, &error) < 0)
    {
      server_failed (q, error->message);
      return;
    }
  q->recv_source = g_socket_create_source (q->socket, G_IO_IN, NULL);
  g_source_set_callback (q->recv_source, (GSourceFunc) (void (*) (void)) on_udp_readable, q, NULL);
  g_source_attach (q->recv_source, g_task_get_context (q->task));
  arm_timer (q);
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  UdpQuery *q = user_data;
  GError *error = NULL;

  (void) cancellable;
  if (!q->done)
    {
      g_cancellable_set_error_if_cancelled (g_task_get_cancellable (q->task), &error);
      finish (q, NULL, error);
    }
  return G_SOURCE_REMOVE;
}

/* "192.0.2.1", "192.0.2.1:5353", "::1", "fe80::1%eth0", "[::1]:5353" → address. */
static GInetSocketAddress *
parse_server (const char *text, GError **error)
{
  g_autofree char *host = NULL;
  guint64 port = 53;
  const char *colon = strrchr (text, ':');
  GSocketAddress *addr = NULL;

  if (text[0] == '[')
    {
      const char *end = strchr (text, ']');

      if (end && (end[1] == '\0' ||
                  (end[1] == ':' && g_ascii_string_to_unsigned (end + 2, 10, 1, 65535, &port, NULL))))
        host = g_strndup (text + 1, (gsize) (end - text - 1));
    }
  else if (colon && strchr (text, ':') == colon)
    {
      if (g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
        host = g_strndup (text, (gsize) (colon - text));
    }
  else
    host = g_strdup (text);   /* IPv4, or bare IPv6 (port 53) */

  if (host && g_hostname_is_ip_address (host))
    addr = g_inet_socket_address_new_from_string (host, (guint) port);
  if (!addr)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "invalid DNS server \"%s\": " SERVER_FORM, text);
  return (GInetSocketAddress *) addr;
}

void
ddr_dns_udp_query_async (const char *const   *servers,
                         GBytes              *query,
                         guint                timeout_ms,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  UdpQuery *q = g_new0 (UdpQuery, 1);
  gsize len = 0;
  const guint8 *data = query ? g_bytes_get_data (query, &len) : NULL;

  g_task_set_source_tag (task, ddr_dns_udp_query_async);
  g_task_set_task_data (task, q, udp_query_free);
  q->task = task;
  q->timeout_ms = MAX (timeout_ms, 1);
  q->servers = g_ptr_array_new_with_free_func (g_object_unref);

  /* Errors are returned through the task: GTask defers them to the next
   * main loop iteration, so the caller is never called back from here. */
  if (!data || ddr_dns_parse_query (data, len, &q->qinfo) != DDR_DNS_OK)
    {
      finish (q, NULL, g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                    "the DNS query to send is not a valid query"));
      return;
    }
  for (guint i = 0; servers && servers[i]; i++)
    {
      GError *error = NULL;
      GInetSocketAddress *addr = parse_server (servers[i], &error);

      if (!addr)
        {
          finish (q, NULL, error);
          return;
        }
      g_ptr_array_add (q->servers, addr);
    }
  if (q->servers->len == 0)
    {
      finish (q, NULL, g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                    "no DNS server to ask"));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    {
      q->done = TRUE;
      g_object_unref (task);
      return;
    }

  q->query = g_memdup2 (data, len);
  q->len = len;
  q->caller_id = q->qinfo.id;
  q->buf = g_malloc (DDR_DNS_MAX_MSG + 2);
  if (cancellable)
    {
      q->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (q->cancel_source, (GSourceFunc) (void (*) (void)) on_cancelled, q, NULL);
      g_source_attach (q->cancel_source, g_task_get_context (task));
    }
  try_server (q);
}

GBytes *
ddr_dns_udp_query_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- address lookups ---- */

typedef struct {
  char **addresses;
  guint  rcode;
} LookupResult;

static void
lookup_result_free (gpointer data)
{
  LookupResult *r = data;

  g_strfreev (r->addresses);
  g_free (r);
}

static void
on_lookup_answer (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) answer = ddr_dns_udp_query_finish (res, &error);
  LookupResult *r;
  gsize len = 0;
  const guint8 *msg;

  (void) source;
  if (!answer)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  msg = g_bytes_get_data (answer, &len);
  r = g_new0 (LookupResult, 1);
  r->rcode = DDR_DNS_RCODE (ddr_dns_get16 (msg + 2));
  r->addresses = ddr_dns_answer_addresses (msg, len, GPOINTER_TO_UINT (g_task_get_task_data (task)));
  g_task_return_pointer (task, r, lookup_result_free);
}

void
ddr_dns_lookup_async (const char *const   *servers,
                      const char          *name,
                      guint16              qtype,
                      guint                timeout_ms,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  guint8 buf[DDR_DNS_HEADER_LEN + DDR_DNS_MAX_NAME + 4];
  g_autoptr(GBytes) query = NULL;
  gsize len;

  g_task_set_source_tag (task, ddr_dns_lookup_async);
  g_task_set_task_data (task, GUINT_TO_POINTER ((guint) qtype), NULL);
  if (qtype != DDR_DNS_TYPE_A && qtype != DDR_DNS_TYPE_AAAA)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "address lookups are for A (1) or AAAA (28), not type %u", qtype);
      return;
    }
  len = ddr_dns_build_query (name ? name : "", qtype, 0, buf, sizeof buf);
  if (!name || len == 0 || len == DDR_DNS_HEADER_LEN + 1 + 4)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "invalid name \"%s\" to look up: expected a domain name such as "
                               "check.example.com", name ? name : "(null)");
      return;
    }
  query = g_bytes_new (buf, len);
  ddr_dns_udp_query_async (servers, query, timeout_ms, cancellable, on_lookup_answer,
                           g_steal_pointer (&task));
}

char **
ddr_dns_lookup_finish (GAsyncResult *result, guint *rcode, GError **error)
{
  LookupResult *r;
  char **out;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  r = g_task_propagate_pointer (G_TASK (result), error);
  if (!r)
    return NULL;
  if (rcode)
    *rcode = r->rcode;
  out = g_steal_pointer (&r->addresses);
  lookup_result_free (r);
  return out;
}
