/* Plain DNS over UDP against an in-process responder: only the real answer is
 * accepted (spoofs from another address, a wrong ID or a wrong question are
 * ignored), the caller's ID comes back, errors name the bad server, and the
 * callback never comes synchronously. */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ddr-dns-udp-client.h"
#include "ddr-dns-query.h"

typedef struct {
  GSocket *server;     /* 127.0.0.1:dynamic, the "network's DNS server" */
  GSocket *spoofer;    /* 127.0.0.2: an off-path attacker on the same host */
  GSource *source;
  guint    answered;
  gboolean spoof;      /* send the bad answers first */
  GBytes  *result;
  GError  *error;
  gboolean done;
} Fixture;

static void
send_answer (GSocket *from, GSocketAddress *to, const guint8 *query, gsize len,
             guint16 id, const char *qname, const guint8 addr[4])
{
  guint8 buf[512];
  gsize n = ddr_dns_build_query (qname, DDR_DNS_TYPE_A, id, buf, sizeof buf);

  (void) query;
  (void) len;
  ddr_dns_put16 (buf + 2, DDR_DNS_FLAG_QR | DDR_DNS_FLAG_RD | DDR_DNS_FLAG_RA);
  n = ddr_dns_add_answer (buf, n, sizeof buf, DDR_DNS_TYPE_A, 60, addr, 4);
  g_assert_cmpuint (n, >, 0);
  g_socket_send_to (from, to, (const char *) buf, n, NULL, NULL);
}

static gboolean
on_query (GSocket *socket, GIOCondition cond, gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr(GSocketAddress) peer = NULL;
  guint8 buf[512];
  gssize n = g_socket_receive_from (socket, &peer, (char *) buf, sizeof buf, NULL, NULL);
  DdrDnsInfo q;
  static const guint8 bad[4] = { 6, 6, 6, 6 }, good[4] = { 192, 0, 2, 3 };

  (void) cond;
  g_assert_cmpint (n, >, 0);
  g_assert_cmpint (ddr_dns_parse_query (buf, (gsize) n, &q), ==, DDR_DNS_OK);
  f->answered++;
  if (f->spoof)
    {
      send_answer (f->spoofer, peer, buf, (gsize) n, q.id, "www.example.test", bad);
      send_answer (socket, peer, buf, (gsize) n, (guint16) (q.id + 1), "www.example.test", bad);
      send_answer (socket, peer, buf, (gsize) n, q.id, "other.example.test", bad);
    }
  send_answer (socket, peer, buf, (gsize) n, q.id, "www.example.test", good);
  return G_SOURCE_CONTINUE;
}

static GSocket *
bound_socket (const char *ip)
{
  g_autoptr(GInetAddress) a = g_inet_address_new_from_string (ip);
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (a, 0);
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                             G_SOCKET_PROTOCOL_UDP, NULL);

  g_assert_true (g_socket_bind (s, sa, FALSE, NULL));
  return s;
}

/* "127.0.0.1:PORT" of a socket bound by bound_socket ("127.0.0.1"). */
static char *
address_text (GSocket *socket)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (socket, NULL);

  return g_strdup_printf ("127.0.0.1:%u",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
}

static void
setup (Fixture *f, gconstpointer data)
{
  (void) data;
  f->server = bound_socket ("127.0.0.1");
  f->spoofer = bound_socket ("127.0.0.2");
  f->source = g_socket_create_source (f->server, G_IO_IN, NULL);
  g_source_set_callback (f->source, (GSourceFunc) (void (*) (void)) on_query, f, NULL);
  g_source_attach (f->source, NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  g_source_destroy (f->source);
  g_source_unref (f->source);
  g_object_unref (f->server);
  g_object_unref (f->spoofer);
  g_clear_pointer (&f->result, g_bytes_unref);
  g_clear_error (&f->error);
}

static void
on_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Fixture *f = user_data;

  (void) source;
  f->result = ddr_dns_udp_query_finish (res, &f->error);
  f->done = TRUE;
}

static void
run_query_cancellable (Fixture *f, const char *const *servers, guint timeout_ms,
                       GCancellable *cancellable)
{
  guint8 buf[512];
  gsize n = ddr_dns_build_query ("WWW.example.test", DDR_DNS_TYPE_A, 0xabcd, buf, sizeof buf);
  g_autoptr(GBytes) query = g_bytes_new (buf, n);

  ddr_dns_udp_query_async (servers, query, timeout_ms, cancellable, on_done, f);
  g_assert_false (f->done);   /* never synchronously, errors included */
  while (!f->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
run_query (Fixture *f, const char *const *servers, guint timeout_ms)
{
  run_query_cancellable (f, servers, timeout_ms, NULL);
}

static void
check_good (Fixture *f)
{
  gsize len = 0;
  const guint8 *msg;
  g_auto(GStrv) addrs = NULL;

  g_assert_no_error (f->error);
  g_assert_nonnull (f->result);
  msg = g_bytes_get_data (f->result, &len);
  g_assert_cmpuint (ddr_dns_get16 (msg), ==, 0xabcd);
  addrs = ddr_dns_answer_addresses (msg, len, DDR_DNS_TYPE_A);
  g_assert_cmpuint (g_strv_length (addrs), ==, 1);
  g_assert_cmpstr (addrs[0], ==, "192.0.2.3");
}

static void
test_answer (Fixture *f, gconstpointer data)
{
  g_autofree char *server = address_text (f->server);
  const char *servers[] = { server, NULL };

  (void) data;
  run_query (f, servers, 2000);
  check_good (f);
}

static void
test_spoofs_ignored (Fixture *f, gconstpointer data)
{
  g_autofree char *server = address_text (f->server);
  const char *servers[] = { server, NULL };

  (void) data;
  f->spoof = TRUE;
  run_query (f, servers, 2000);
  check_good (f);
}

static void
test_next_server (Fixture *f, gconstpointer data)
{
  g_autoptr(GSocket) silent = bound_socket ("127.0.0.1");
  g_autofree char *dead = address_text (silent);
  g_autofree char *server = address_text (f->server);
  const char *servers[] = { dead, server, NULL };
  gint64 t0 = g_get_monotonic_time ();

  (void) data;
  run_query (f, servers, 300);   /* the first server never answers: 300 ms, then the next */
  check_good (f);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 300 * 1000);
  g_assert_cmpuint (f->answered, ==, 1);
}

static gboolean
cancel_now (gpointer cancellable)
{
  g_cancellable_cancel (cancellable);
  return G_SOURCE_REMOVE;
}

/* Cancelled while the server is silent: CANCELLED at once, not after the timeout. */
static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GSocket) silent = bound_socket ("127.0.0.1");
  g_autofree char *server = address_text (silent);
  const char *servers[] = { server, NULL };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 t0 = g_get_monotonic_time ();

  (void) data;
  g_timeout_add (50, cancel_now, cancellable);
  run_query_cancellable (f, servers, 5000, cancellable);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 2 * G_USEC_PER_SEC);
  g_assert_null (f->result);
}

static void
test_bad_server (Fixture *f, gconstpointer data)
{
  const char *servers[] = { "192.0.2.1", "not-an-ip", NULL };
  const char *none[] = { NULL };

  (void) data;
  run_query (f, servers, 100);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (f->error->message, "\"not-an-ip\""));
  g_clear_error (&f->error);
  f->done = FALSE;
  run_query (f, none, 100);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (f->answered, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/dns-udp-client/answer", Fixture, NULL, setup, test_answer, teardown);
  g_test_add ("/dns-udp-client/spoofs-ignored", Fixture, NULL, setup, test_spoofs_ignored, teardown);
  g_test_add ("/dns-udp-client/next-server", Fixture, NULL, setup, test_next_server, teardown);
  g_test_add ("/dns-udp-client/cancel", Fixture, NULL, setup, test_cancel, teardown);
  g_test_add ("/dns-udp-client/bad-server", Fixture, NULL, setup, test_bad_server, teardown);
  return g_test_run ();
}
