/* Establishing an nghttp2-engine connection: resolve, try each address, TLS handshake with ALPN h2. */
#define G_LOG_DOMAIN "ddr-doh"

#include "config.h"

#include "ddr-h2-private.h"

#include <errno.h>
#include <gio/gio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void conn_start_tls (DdrH2Conn *conn);

/* ---- connect ---- */

static void
conn_try_connect (DdrH2Conn *conn)
{
  while (conn->addrs && conn->addrs[conn->next_addr])
    {
      const char *ip = conn->addrs[conn->next_addr++];
      struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                                .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
      struct addrinfo *ai = NULL;
      int one = 1;
      int rc;

      g_strlcpy (conn->ip, ip, sizeof conn->ip);
      if (getaddrinfo (ip, conn->port, &hints, &ai) != 0 || !ai)
        {
          g_snprintf (conn->last_error, sizeof conn->last_error, "bad address %s", ip);
          continue;
        }
      conn->fd = socket (ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (conn->fd < 0)
        {
          g_snprintf (conn->last_error, sizeof conn->last_error, "socket: %s",
                      g_strerror (errno));
          freeaddrinfo (ai);
          continue;
        }
      setsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      rc = connect (conn->fd, ai->ai_addr, ai->ai_addrlen);
      freeaddrinfo (ai);
      if (rc == 0)
        {
          ddr_h2_conn_watch (conn, G_IO_IN);
          conn->connect_credit = TRUE;
          conn_start_tls (conn);
          return;
        }
      if (errno == EINPROGRESS)
        {
          conn->state = C_CONNECTING;
          ddr_h2_conn_watch (conn, G_IO_OUT);
          return;
        }
      g_snprintf (conn->last_error, sizeof conn->last_error,
                  "connect to %s port %s failed: %s", ip, conn->port, g_strerror (errno));
      ddr_h2_conn_close_fd (conn);
    }
  ddr_h2_conn_fail (conn, "%s", conn->last_error[0] ? conn->last_error : "no address to connect to");
}

void
ddr_h2_connect_finish (DdrH2Conn *conn)
{
  int err = 0;
  socklen_t len = sizeof err;

  if (getsockopt (conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err == EINPROGRESS)
    return;
  if (err != 0)
    {
      g_snprintf (conn->last_error, sizeof conn->last_error,
                  "connect to %s port %s failed: %s", conn->ip, conn->port, g_strerror (err));
      ddr_h2_conn_close_fd (conn);
      conn_try_connect (conn);
      return;
    }
  conn->connect_credit = TRUE;
  ddr_h2_conn_set_cond (conn, G_IO_IN);
  conn_start_tls (conn);
}

static void
on_resolved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  ResolveReq *rr = user_data;
  DdrH2Conn *conn = rr->conn;
  g_autoptr(GError) error = NULL;
  GList *addrs = g_resolver_lookup_by_name_finish (G_RESOLVER (source), res, &error);
  GPtrArray *list;

  g_object_unref (rr->cancel);
  g_free (rr);
  if (!conn)
    {
      g_resolver_free_addresses (addrs);
      return;
    }
  conn->resolve = NULL;
  if (!addrs)
    {
      ddr_h2_conn_fail (conn, "could not resolve %s: %s", conn->host, error->message);
      return;
    }
  list = g_ptr_array_new ();
  for (GList *l = addrs; l; l = l->next)
    g_ptr_array_add (list, g_inet_address_to_string (l->data));
  g_ptr_array_add (list, NULL);
  g_resolver_free_addresses (addrs);
  conn->addrs = (char **) g_ptr_array_free (list, FALSE);
  conn->next_addr = 0;
  conn_try_connect (conn);
}

void
ddr_h2_connect_start (DdrH2Conn *conn)
{
  g_autoptr(GResolver) resolver = NULL;
  ResolveReq *rr;

  if (conn->addrs)
    {
      conn_try_connect (conn);
      return;
    }
  conn->state = C_RESOLVING;
  rr = g_new0 (ResolveReq, 1);
  rr->conn = conn;
  rr->cancel = g_cancellable_new ();
  conn->resolve = rr;
  resolver = g_resolver_get_default ();
  g_resolver_lookup_by_name_async (resolver, conn->host, rr->cancel, on_resolved, rr);
}

/* ---- TLS ---- */

static void
conn_start_tls (DdrH2Conn *conn)
{
  X509_VERIFY_PARAM *param;
  int ok;

  conn->state = C_HANDSHAKE;
  if (!conn->client->ssl_ctx || !(conn->ssl = SSL_new (conn->client->ssl_ctx)))
    {
      ddr_h2_conn_fail (conn, "TLS setup failed");
      return;
    }
  SSL_set_fd (conn->ssl, conn->fd);
  param = SSL_get0_param (conn->ssl);
  X509_VERIFY_PARAM_set_hostflags (param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (conn->host_is_ip)
    ok = X509_VERIFY_PARAM_set1_ip_asc (param, conn->host);
  else
    ok = X509_VERIFY_PARAM_set1_host (param, conn->host, 0) &&
         SSL_set_tlsext_host_name (conn->ssl, conn->host);
  if (!ok)
    {
      ddr_h2_conn_fail (conn, "TLS setup failed for host %s", conn->host);
      return;
    }
  SSL_set_connect_state (conn->ssl);
  /* the handshake's first flight goes out from the dispatch that POLLOUT brings */
  ddr_h2_conn_set_cond (conn, G_IO_IN | G_IO_OUT);
}

void
ddr_h2_connect_handshake (DdrH2Conn *conn)
{
  const unsigned char *alpn = NULL;
  unsigned int alpn_len = 0;
  char buf[128];
  GQueue waiting;
  GList *l;
  int rc;

  ERR_clear_error ();
  errno = 0;
  rc = SSL_do_handshake (conn->ssl);
  if (rc != 1)
    {
      int err = SSL_get_error (conn->ssl, rc);

      if (err == SSL_ERROR_WANT_READ)
        ddr_h2_conn_set_cond (conn, G_IO_IN);
      else if (err == SSL_ERROR_WANT_WRITE)
        ddr_h2_conn_set_cond (conn, G_IO_IN | G_IO_OUT);
      else
        ddr_h2_conn_fail (conn, "TLS handshake with %s failed: %s", conn->key,
                   ddr_h2_conn_ssl_error_text (conn, rc, buf, sizeof buf));
      return;
    }
  SSL_get0_alpn_selected (conn->ssl, &alpn, &alpn_len);
  if (alpn_len != 2 || memcmp (alpn, "h2", 2) != 0)
    {
      ddr_h2_conn_fail (conn, "%s did not negotiate HTTP/2 (ALPN h2)", conn->key);
      return;
    }
  if (!ddr_h2_session_setup (conn))
    {
      ddr_h2_conn_fail (conn, "HTTP/2 session setup failed");
      return;
    }
  conn->state = C_READY;
  ddr_h2_conn_set_cond (conn, G_IO_IN);
  /* the transfers that waited go out with the SETTINGS, in the next flush */
  waiting = conn->queued;
  g_queue_init (&conn->queued);
  while ((l = g_queue_pop_head_link (&waiting)))
    ddr_h2_conn_submit (conn, l->data);
  ddr_h2_conn_check_idle (conn);
}
