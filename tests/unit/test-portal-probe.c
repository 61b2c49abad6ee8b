/* The captive-portal probe (libcurl) against an in-process HTTP responder and DNS
 * server, in a network namespace of its own (root): every verdict, the request it
 * sends, its bounds (timeout, body and header size), cancellation, refused
 * connections, refused DNS answers (loopback, unspecified, link-local), no proxy, no
 * redirect followed, the device binding. */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <sched.h>
#include <string.h>

#include "ddr-dns-query.h"
#include "ddr-portal-probe.h"

/* an address of this namespace's lo that is not loopback-class: the probe may go there */
#define PORTAL_ADDR "198.18.0.1"
#define PORTAL_ADDR6 "2001:db8::5"

typedef struct {
  GSocketService *service;
  guint16         port;
  char           *response;     /* sent after the request's headers; NULL: hang */
  gsize           response_len;
  GString        *request;      /* what the last client sent, up to its blank line */
  GPtrArray      *conns;        /* kept open until teardown (the hang case) */
  guint           accepted;

  GSocket        *dns;          /* 127.0.0.1:dynamic; see on_dns_query */
  GSource        *dns_source;
  guint           dns_queries;

  DdrPortalResult result;
  char           *portal_url;
  char           *detail;
  gboolean        done;
  gint64          took_us;
} Fixture;

typedef struct {
  Fixture           *f;
  GSocketConnection *conn;
  char               buf[4096];
  GString           *got;
} Client;

static void
client_free (Client *c)
{
  g_object_unref (c->conn);
  g_string_free (c->got, TRUE);
  g_free (c);
}

static void
on_response_written (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Client *c = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (c->conn), NULL, NULL);
  client_free (c);
}

static void
on_request (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Client *c = user_data;
  Fixture *f = c->f;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, NULL);

  if (n <= 0)
    {
      client_free (c);
      return;
    }
  g_string_append_len (c->got, c->buf, n);
  if (strstr (c->got->str, "\r\n\r\n") == NULL)
    {
      g_input_stream_read_async (G_INPUT_STREAM (source), c->buf, sizeof c->buf,
                                 G_PRIORITY_DEFAULT, NULL, on_request, c);
      return;
    }
  g_string_assign (f->request, c->got->str);
  if (f->response == NULL)
    {
      /* hang: hold the connection open, answer nothing */
      g_ptr_array_add (f->conns, g_object_ref (c->conn));
      client_free (c);
      return;
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (c->conn)),
                                   f->response, f->response_len, G_PRIORITY_DEFAULT, NULL,
                                   on_response_written, c);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *conn, GObject *source_object,
             gpointer user_data)
{
  Fixture *f = user_data;
  Client *c = g_new0 (Client, 1);

  f->accepted++;
  c->f = f;
  c->conn = g_object_ref (conn);
  c->got = g_string_new (NULL);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (conn)), c->buf,
                             sizeof c->buf, G_PRIORITY_DEFAULT, NULL, on_request, c);
  return TRUE;
}

/* The network's DNS: portal.test A -> PORTAL_ADDR (the responder); hostile names
 * aim at this machine or its link; every other name is NXDOMAIN. */
static const struct {
  const char *name;    /* wire form */
  guint16     type;
  const char *addr;
} dns_answers[] = {
  { "\6portal\4test", DDR_DNS_TYPE_A, PORTAL_ADDR },
  { "\4loop\4test", DDR_DNS_TYPE_A, "127.0.0.1" },
  { "\4zero\4test", DDR_DNS_TYPE_A, "0.0.0.0" },
  { "\2ll\4test", DDR_DNS_TYPE_A, "169.254.1.1" },
  { "\6mapped\4test", DDR_DNS_TYPE_AAAA, "::ffff:127.0.0.1" },
  { "\3ll6\4test", DDR_DNS_TYPE_AAAA, "fe80::1" },
  { "\3six\4test", DDR_DNS_TYPE_AAAA, PORTAL_ADDR6 },
  { "\5loop6\4test", DDR_DNS_TYPE_AAAA, "::1" },
};

static gboolean
on_dns_query (GSocket *socket, GIOCondition cond, gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr(GSocketAddress) peer = NULL;
  guint8 buf[512];
  gssize n = g_socket_receive_from (socket, &peer, (char *) buf, sizeof buf, NULL, NULL);
  DdrDnsInfo q;
  gboolean known = FALSE;
  gsize len;

  g_assert_cmpint (n, >, 0);
  g_assert_cmpint (ddr_dns_parse_query (buf, (gsize) n, &q), ==, DDR_DNS_OK);
  f->dns_queries++;
  for (guint i = 0; i < G_N_ELEMENTS (dns_answers); i++)
    known = known || (q.qname_len == strlen (dns_answers[i].name) + 1
                      && memcmp (q.qname, dns_answers[i].name, q.qname_len) == 0);
  len = q.question_end;
  ddr_dns_put16 (buf + 2, DDR_DNS_FLAG_QR | DDR_DNS_FLAG_RD | DDR_DNS_FLAG_RA | (known ? 0 : 3));
  ddr_dns_put16 (buf + 6, 0);
  ddr_dns_put16 (buf + 8, 0);
  ddr_dns_put16 (buf + 10, 0);
  for (guint i = 0; i < G_N_ELEMENTS (dns_answers); i++)
    if (q.qname_len == strlen (dns_answers[i].name) + 1
        && memcmp (q.qname, dns_answers[i].name, q.qname_len) == 0
        && q.qtype == dns_answers[i].type)
      {
        g_autoptr(GInetAddress) a = g_inet_address_new_from_string (dns_answers[i].addr);

        len = ddr_dns_add_answer (buf, len, sizeof buf, q.qtype, 60,
                                  g_inet_address_to_bytes (a), g_inet_address_get_native_size (a));
      }
  g_assert_cmpuint (len, >, 0);
  g_socket_send_to (socket, peer, (const char *) buf, len, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_from_string ("127.0.0.1");
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GInetAddress) all4 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) every = g_inet_socket_address_new (all4, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  (void) data;
  /* every IPv4 address of the namespace: a probe aimed at 127.0.0.1 would be seen */
  f->service = g_socket_service_new ();
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (f->service), every,
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                NULL, &bound, NULL));
  f->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  /* and PORTAL_ADDR6, on the same port */
  {
    g_autoptr(GInetAddress) a6 = g_inet_address_new_from_string (PORTAL_ADDR6);
    g_autoptr(GSocketAddress) at6 = g_inet_socket_address_new (a6, f->port);

    g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (f->service), at6,
                                                  G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                  NULL, NULL, NULL));
  }
  g_signal_connect (f->service, "incoming", G_CALLBACK (on_incoming), f);
  g_socket_service_start (f->service);
  f->request = g_string_new (NULL);
  f->conns = g_ptr_array_new_with_free_func (g_object_unref);

  f->dns = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                         NULL);
  g_assert_true (g_socket_bind (f->dns, any, FALSE, NULL));
  f->dns_source = g_socket_create_source (f->dns, G_IO_IN, NULL);
  g_source_set_callback (f->dns_source, (GSourceFunc) (void (*) (void)) on_dns_query, f, NULL);
  g_source_attach (f->dns_source, NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  g_socket_service_stop (f->service);
  g_socket_listener_close (G_SOCKET_LISTENER (f->service));
  g_object_unref (f->service);
  g_ptr_array_unref (f->conns);
  g_string_free (f->request, TRUE);
  g_free (f->response);
  g_free (f->portal_url);
  g_free (f->detail);
  g_source_destroy (f->dns_source);
  g_source_unref (f->dns_source);
  g_object_unref (f->dns);
  /* let closed connections' pending callbacks run out */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static char *
dns_server (Fixture *f)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (f->dns, NULL);

  return g_strdup_printf ("127.0.0.1:%u",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
}

static void
respond (Fixture *f, const char *text)
{
  g_free (f->response);
  f->response = g_strdup (text);
  f->response_len = text ? strlen (text) : 0;
}

static void
on_probe_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_null (source);
  f->result = ddr_portal_probe_finish (res, &f->portal_url, &f->detail);
  f->done = TRUE;
}

static void
run_probe_iface (Fixture *f, const char *url, const char *const *servers, const char *iface,
                 guint timeout_ms, GCancellable *cancellable)
{
  gint64 t0 = g_get_monotonic_time ();

  g_clear_pointer (&f->portal_url, g_free);
  g_clear_pointer (&f->detail, g_free);
  f->done = FALSE;
  ddr_portal_probe_async (url, servers, iface, timeout_ms, cancellable, on_probe_done, f);
  g_assert_false (f->done);    /* never synchronously */
  while (!f->done)
    g_main_context_iteration (NULL, TRUE);
  f->took_us = g_get_monotonic_time () - t0;
  g_assert_nonnull (f->portal_url);
  g_assert_nonnull (f->detail);
  g_test_message ("%s -> %d %s (%s)", url, f->result, f->portal_url, f->detail);
}

static void
run_probe_full (Fixture *f, const char *url, const char *const *servers, guint timeout_ms,
                GCancellable *cancellable)
{
  run_probe_iface (f, url, servers, NULL, timeout_ms, cancellable);
}

/* GET http://PORTAL_ADDR:PORT<path> */
static void
run_probe (Fixture *f, const char *path, guint timeout_ms)
{
  g_autofree char *url = g_strdup_printf ("http://" PORTAL_ADDR ":%u%s", f->port, path);

  run_probe_full (f, url, NULL, timeout_ms, NULL);
}

static void
test_204 (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strdup_printf ("http://" PORTAL_ADDR ":%u/generate_204?x=1", f->port);
  g_autofree char *host = g_strdup_printf ("\r\nHost: " PORTAL_ADDR ":%u\r\n", f->port);

  respond (f, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  run_probe (f, "/generate_204?x=1", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_CLEAR);
  g_assert_cmpstr (f->portal_url, ==, url);
  g_assert_true (g_str_has_prefix (f->request->str, "GET /generate_204?x=1 HTTP/1.1\r\n"));
  g_assert_nonnull (strstr (f->request->str, host));
  g_assert_nonnull (strstr (f->request->str, "\r\nCache-Control: no-cache\r\n"));
  g_assert_nonnull (strstr (f->request->str, "\r\nUser-Agent: threatstop-ddr portal probe\r\n"));
}

static void
test_200_empty (Fixture *f, gconstpointer data)
{
  respond (f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  run_probe (f, "/", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_CLEAR);
  /* no Content-Length: the body ends with the connection; empty is still clear */
  respond (f, "HTTP/1.0 200 OK\r\nServer: test\r\n\r\n");
  run_probe (f, "/", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_CLEAR);
  /* chunked, and the first chunk is the last */
  respond (f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  run_probe (f, "/", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_CLEAR);
}

static void
test_redirect_relative (Fixture *f, gconstpointer data)
{
  g_autofree char *want = g_strdup_printf ("http://" PORTAL_ADDR ":%u/login?next=%%2Fcheck", f->port);

  respond (f, "HTTP/1.1 302 Found\r\nLocation: /login?next=%2Fcheck\r\nContent-Length: 5\r\n"
              "\r\nmoved");
  run_probe (f, "/check", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_DETECTED);
  g_assert_cmpstr (f->portal_url, ==, want);
  g_assert_nonnull (strstr (f->detail, want));
}

static void
test_redirect_absolute (Fixture *f, gconstpointer data)
{
  respond (f, "HTTP/1.1 307 Temporary Redirect\r\nlocation:   http://portal.example/welcome  \r\n"
              "\r\n");
  run_probe (f, "/check", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_DETECTED);
  g_assert_cmpstr (f->portal_url, ==, "http://portal.example/welcome");
  g_assert_cmpstr (f->detail, ==, "redirected to http://portal.example/welcome");
}

static void
test_200_body (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strdup_printf ("http://" PORTAL_ADDR ":%u/check", f->port);

  respond (f, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 21\r\n\r\n"
              "<html>login</html>\r\n\r\n");
  run_probe (f, "/check", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_DETECTED);
  g_assert_cmpstr (f->portal_url, ==, url);
  g_assert_cmpstr (f->detail, ==, "HTTP 200 with a 21-byte body");
  /* without a length, up to the end of the connection */
  respond (f, "HTTP/1.1 200 OK\r\n\r\nhello");
  run_probe (f, "/check", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_DETECTED);
  g_assert_cmpstr (f->detail, ==, "HTTP 200 with a 5-byte body");
}

static void
test_500 (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strdup_printf ("http://" PORTAL_ADDR ":%u/check", f->port);

  respond (f, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
  run_probe (f, "/check", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_DETECTED);
  g_assert_cmpstr (f->portal_url, ==, url);
  g_assert_cmpstr (f->detail, ==, "HTTP 500 instead of 204");
}

static void
test_garbage (Fixture *f, gconstpointer data)
{
  const char *garbage[] = {
    "SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "HTTP/1.1 2x4 What\r\n\r\n",
    "HTTP/1.1 302 Found\r\nContent-Length: lots\r\n\r\n",
    "HTTP/1.1 204 No",                      /* closed in the middle of the headers */
    "",                                     /* closed without a byte */
  };

  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++)
    {
      respond (f, garbage[i]);
      run_probe (f, "/", 5000);
      g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
    }
}

static void
test_timeout (Fixture *f, gconstpointer data)
{
  respond (f, NULL);
  run_probe (f, "/", 300);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
  /* our deadline or curl's, whichever the loop sees first */
  g_assert_true (strstr (f->detail, "within 300 ms") || strstr (f->detail, "timed out"));
  g_assert_cmpint (f->took_us, >=, 290 * 1000);
  g_assert_cmpint (f->took_us, <, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (f->accepted, ==, 1);
}

static gboolean
cancel_later (gpointer cancellable)
{
  g_cancellable_cancel (cancellable);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  g_autofree char *url = g_strdup_printf ("http://" PORTAL_ADDR ":%u/", f->port);

  respond (f, NULL);
  g_timeout_add (100, cancel_later, cancel);
  run_probe_full (f, url, NULL, 10000, cancel);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
  g_assert_cmpstr (f->detail, ==, "the probe was cancelled");
  g_assert_cmpint (f->took_us, <, 2 * G_USEC_PER_SEC);
}

static void
test_refused (Fixture *f, gconstpointer data)
{
  guint16 port = f->port;
  g_autofree char *url = g_strdup_printf ("http://" PORTAL_ADDR ":%u/", port);

  /* nobody listens on the port once the responder is gone */
  g_socket_service_stop (f->service);
  g_socket_listener_close (G_SOCKET_LISTENER (f->service));
  run_probe_full (f, url, NULL, 5000, NULL);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
  g_assert_true (g_str_has_prefix (f->detail, "no answer from " PORTAL_ADDR));
  g_assert_cmpint (f->took_us, <, 2 * G_USEC_PER_SEC);
}

static void
test_oversized (Fixture *f, gconstpointer data)
{
  GString *big = g_string_new ("HTTP/1.1 200 OK\r\n\r\n");

  /* a body far beyond the bound, from a server that would keep going: a verdict at
   * 64 KiB, not a wait for the end */
  for (guint i = 0; i < 4096; i++)
    g_string_append (big, "<p>please log in to continue</p>\n");
  respond (f, big->str);
  run_probe (f, "/", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_DETECTED);
  g_assert_nonnull (strstr (f->detail, "more than"));

  /* headers that never end within the bound */
  g_string_assign (big, "HTTP/1.1 200 OK\r\n");
  while (big->len < 100 * 1024)
    g_string_append (big, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
  respond (f, big->str);
  run_probe (f, "/", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
  g_assert_nonnull (strstr (f->detail, "longer than"));
  g_assert_true (g_str_has_prefix (f->detail, "response headers"));
  g_string_free (big, TRUE);
}

static void
test_bad_url (Fixture *f, gconstpointer data)
{
  const char *bad[] = { "ftp://" PORTAL_ADDR "/", "file:///etc/passwd", "not a url",
                        "http:///nohost", "" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      run_probe_full (f, bad[i], NULL, 5000, NULL);
      g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
    }
  g_assert_cmpuint (f->accepted, ==, 0);
  run_probe_full (f, NULL, NULL, 5000, NULL);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
}

static void
test_resolve_through_servers (Fixture *f, gconstpointer data)
{
  g_autofree char *server = dns_server (f);
  const char *servers[] = { server, NULL };
  g_autofree char *url = g_strdup_printf ("http://portal.test:%u/check", f->port);
  g_autofree char *nx = g_strdup_printf ("http://nowhere.test:%u/check", f->port);
  g_autofree char *literal = g_strdup_printf ("http://" PORTAL_ADDR ":%u/check", f->port);

  respond (f, "HTTP/1.1 204 No Content\r\n\r\n");
  run_probe_full (f, url, servers, 5000, NULL);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_CLEAR);
  g_assert_cmpuint (f->dns_queries, ==, 1);
  g_assert_nonnull (strstr (f->request->str, "\r\nHost: portal.test:"));

  /* NXDOMAIN for A: no AAAA query, no connection */
  run_probe_full (f, nx, servers, 5000, NULL);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
  g_assert_true (g_str_has_prefix (f->detail, "cannot resolve host nowhere.test"));
  g_assert_cmpuint (f->dns_queries, ==, 2);
  g_assert_cmpuint (f->accepted, ==, 1);

  /* an IP literal asks nobody */
  run_probe_full (f, literal, servers, 5000, NULL);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_CLEAR);
  g_assert_cmpuint (f->dns_queries, ==, 2);
}

static void
test_resolve_server_silent (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strdup_printf ("http://portal.test:%u/check", f->port);
  g_autoptr(GSocket) quiet = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                           G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_from_string ("127.0.0.1");
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *server = NULL;
  const char *servers[2] = { NULL, NULL };

  /* a DNS server that never answers: the whole probe still ends at its timeout */
  g_assert_true (g_socket_bind (quiet, any, FALSE, NULL));
  local = g_socket_get_local_address (quiet, NULL);
  server = g_strdup_printf ("127.0.0.1:%u",
                            g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  servers[0] = server;
  respond (f, "HTTP/1.1 204 No Content\r\n\r\n");
  run_probe_full (f, url, servers, 400, NULL);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
  g_assert_cmpint (f->took_us, <, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (f->accepted, ==, 0);
}

/* The network's DNS names this machine or its link: no request goes there. */
static void
test_refused_answers (Fixture *f, gconstpointer data)
{
  g_autofree char *server = dns_server (f);
  const char *servers[] = { server, NULL };
  static const struct { const char *host; const char *says; } cases[] = {
    { "loop.test", "127.0.0.1 (loopback)" },
    { "zero.test", "0.0.0.0 (unspecified)" },
    { "ll.test", "169.254.1.1 (link-local)" },
    { "mapped.test", "(loopback)" },
    { "ll6.test", "fe80::1 (link-local)" },
    { "loop6.test", "::1 (loopback)" },
  };

  respond (f, "HTTP/1.1 204 No Content\r\n\r\n");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *url = g_strdup_printf ("http://%s:%u/check", cases[i].host, f->port);

      run_probe_full (f, url, servers, 5000, NULL);
      g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
      g_assert_nonnull (strstr (f->detail, "refused"));
      g_assert_nonnull (strstr (f->detail, cases[i].says));
    }
  g_assert_cmpuint (f->accepted, ==, 0);
}

/* A name with only an IPv6 address: A first, then AAAA, pinned in brackets. */
static void
test_resolve_ipv6 (Fixture *f, gconstpointer data)
{
  g_autofree char *server = dns_server (f);
  const char *servers[] = { server, NULL };
  g_autofree char *url = g_strdup_printf ("http://six.test:%u/generate_204", f->port);

  respond (f, "HTTP/1.1 204 No Content\r\n\r\n");
  run_probe_full (f, url, servers, 5000, NULL);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_CLEAR);
  g_assert_cmpuint (f->dns_queries, ==, 2);
  g_assert_cmpuint (f->accepted, ==, 1);
  g_assert_nonnull (strstr (f->request->str, "\r\nHost: six.test:"));
}

/* A proxy in the environment is not used: it would hide the portal. */
static void
test_no_proxy (Fixture *f, gconstpointer data)
{
  respond (f, "HTTP/1.1 204 No Content\r\n\r\n");
  g_setenv ("http_proxy", "http://127.0.0.1:9/", TRUE);
  g_setenv ("HTTP_PROXY", "http://127.0.0.1:9/", TRUE);
  g_setenv ("all_proxy", "http://127.0.0.1:9/", TRUE);
  run_probe (f, "/generate_204", 5000);
  g_unsetenv ("http_proxy");
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("all_proxy");
  g_assert_cmpint (f->result, ==, DDR_PORTAL_CLEAR);
  g_assert_true (g_str_has_prefix (f->request->str, "GET /generate_204 HTTP/1.1\r\n"));
}

/* The redirect is the answer: never followed, whatever its target. */
static void
test_redirect_not_followed (Fixture *f, gconstpointer data)
{
  g_autofree char *want = g_strdup_printf ("http://" PORTAL_ADDR ":%u/generate_204", f->port);

  respond (f, "HTTP/1.1 302 Found\r\nLocation: /generate_204\r\nContent-Length: 0\r\n\r\n");
  run_probe (f, "/check", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_DETECTED);
  g_assert_cmpstr (f->portal_url, ==, want);
  g_assert_cmpuint (f->accepted, ==, 1);
  /* a hostile Location: detected, nothing published */
  respond (f, "HTTP/1.1 302 Found\r\nLocation: javascript:alert(document.cookie)\r\n\r\n");
  run_probe (f, "/check", 5000);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_DETECTED);
  g_assert_cmpstr (f->portal_url, ==, "");
  g_assert_nonnull (strstr (f->detail, "unusable Location"));
  g_assert_cmpuint (f->accepted, ==, 2);
}

/* The socket is bound to the device it is told: through lo the responder answers;
 * through a device that does not exist nothing leaves at all. */
static void
test_bound_to_device (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strdup_printf ("http://" PORTAL_ADDR ":%u/generate_204", f->port);

  respond (f, "HTTP/1.1 204 No Content\r\n\r\n");
  run_probe_iface (f, url, NULL, "lo", 5000, NULL);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_CLEAR);
  g_assert_cmpuint (f->accepted, ==, 1);
  run_probe_iface (f, url, NULL, "ddr-nosuch0", 5000, NULL);
  g_assert_cmpint (f->result, ==, DDR_PORTAL_UNKNOWN);
  g_assert_nonnull (strstr (f->detail, "ddr-nosuch0"));
  g_assert_cmpuint (f->accepted, ==, 1);
}

/* The probe needs addresses that are not loopback-class on a device of its own: a
 * network namespace (root), lo up with PORTAL_ADDR. */
static void
enter_private_network (void)
{
  const char *argv_up[] = { "ip", "link", "set", "lo", "up", NULL };
  const char *argv_addr[] = { "ip", "addr", "add", PORTAL_ADDR "/32", "dev", "lo", NULL };
  const char *argv_addr6[] = { "ip", "addr", "add", PORTAL_ADDR6 "/128", "dev", "lo", "nodad",
                               NULL };
  const char *const *cmds[] = { argv_up, argv_addr, argv_addr6 };
  g_autoptr(GError) error = NULL;

  if (unshare (CLONE_NEWNET) != 0)
    g_error ("unshare(CLONE_NEWNET): %s (this test runs as root)", g_strerror (errno));
  for (guint i = 0; i < G_N_ELEMENTS (cmds); i++)
    {
      int status = 0;

      if (!g_spawn_sync (NULL, (char **) cmds[i], NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                         NULL, &status, &error)
          || !g_spawn_check_wait_status (status, &error))
        g_error ("%s: %s", cmds[i][2], error->message);
    }
}

int
main (int argc, char **argv)
{
  enter_private_network ();
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add ("/portal-probe/" name, Fixture, NULL, setup, fn, teardown)
  ADD ("204", test_204);
  ADD ("200-empty", test_200_empty);
  ADD ("redirect-relative", test_redirect_relative);
  ADD ("redirect-absolute", test_redirect_absolute);
  ADD ("200-body", test_200_body);
  ADD ("500", test_500);
  ADD ("garbage", test_garbage);
  ADD ("timeout", test_timeout);
  ADD ("cancel", test_cancel);
  ADD ("refused", test_refused);
  ADD ("oversized", test_oversized);
  ADD ("bad-url", test_bad_url);
  ADD ("resolve-through-servers", test_resolve_through_servers);
  ADD ("resolve-server-silent", test_resolve_server_silent);
  ADD ("refused-answers", test_refused_answers);
  ADD ("resolve-ipv6", test_resolve_ipv6);
  ADD ("no-proxy", test_no_proxy);
  ADD ("redirect-not-followed", test_redirect_not_followed);
  ADD ("bound-to-device", test_bound_to_device);
#undef ADD
  return g_test_run ();
}
