/* Unit tests of the upstream pool that need no server: validation, back-off, status names. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "ddr-upstream-pool.h"

static DdrUpstreamPool *
try_new (const char *url, const char *bootstrap, const char *ca_file, guint timeout_ms,
         GError **error)
{
  char *urls[] = { (char *) url, NULL };
  char *boots[] = { (char *) bootstrap, NULL };
  DdrUpstreamConfig config = {
    .urls = url ? urls : NULL,
    .bootstrap = bootstrap ? boots : NULL,
    .ca_file = (char *) ca_file,
    .timeout_ms = timeout_ms,
    .method = DDR_DOH_METHOD_POST,
  };

  return ddr_upstream_pool_new (&config, error);
}

static void
expect_error (const char *url, const char *bootstrap, const char *ca_file, guint timeout_ms,
              const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrUpstreamPool) pool = try_new (url, bootstrap, ca_file, timeout_ms, &error);

  g_assert_null (pool);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, message);
}

static void
test_valid (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrUpstreamPool) pool = NULL;
  char *urls[] = { "https://doh.test/dns-query", "https://[::1]:8443/dns-query?x=1", NULL };
  char *boots[] = { "127.0.0.1", "::1", "[::2]", NULL };
  DdrUpstreamConfig config = {
    .urls = urls, .bootstrap = boots, .timeout_ms = 2500, .method = DDR_DOH_METHOD_GET,
  };
  DdrUpstreamInfo *info;
  guint n = 0;

  pool = ddr_upstream_pool_new (&config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pool);
  g_assert_cmpuint (ddr_upstream_pool_inflight (pool), ==, 0);
  g_assert_false (ddr_upstream_pool_all_failing (pool));
  info = ddr_upstream_pool_get_info (pool, &n);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpstr (info[0].url, ==, urls[0]);
  g_assert_cmpstr (info[1].url, ==, urls[1]);
  g_assert_true (info[0].healthy);
  g_assert_cmpuint (info[0].queries, ==, 0);
  g_assert_cmpuint (info[1].connects, ==, 0);
  g_free (info);
  /* nothing pending: dropping connections is harmless */
  ddr_upstream_pool_drop_connections (pool);
}

static void
test_bad_url (void)
{
  expect_error ("http://x/dns-query", NULL, NULL, 2500,
                "url \"http://x/dns-query\" is not https: expected https://host[:port]/path");
  expect_error ("ftp://x/", NULL, NULL, 2500,
                "url \"ftp://x/\" is not https: expected https://host[:port]/path");
  expect_error (NULL, NULL, NULL, 2500,
                "url: none given: expected https://host[:port]/path");
}

static void
test_unparsable_url (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrUpstreamPool) pool = try_new ("https://", NULL, NULL, 2500, &error);

  g_assert_null (pool);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "url \"https://\" "));
  g_assert_true (g_str_has_suffix (error->message, "expected https://host[:port]/path"));
}

static void
test_bad_bootstrap (void)
{
  expect_error ("https://doh.test/dns-query", "1.2.3", NULL, 2500,
                "bootstrap \"1.2.3\" is not an IP address");
  expect_error ("https://doh.test/dns-query", "doh.test", NULL, 2500,
                "bootstrap \"doh.test\" is not an IP address");
  expect_error ("https://doh.test/dns-query", "", NULL, 2500,
                "bootstrap \"\" is not an IP address");
}

static void
test_bad_ca_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-upstream-XXXXXX", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.pem", NULL);
  g_autofree char *msg = g_strdup_printf ("ca-file \"%s\": No such file or directory", missing);
  g_autofree char *msg_dir = g_strdup_printf ("ca-file \"%s\": not a regular file", dir);

  expect_error ("https://doh.test/dns-query", NULL, missing, 2500, msg);
  expect_error ("https://doh.test/dns-query", NULL, dir, 2500, msg_dir);
  g_rmdir (dir);
}

static void
test_bad_timeout (void)
{
  expect_error ("https://doh.test/dns-query", NULL, NULL, 0,
                "timeout-ms 0 is out of range: expected 1 to 600000");
}

static void
test_status_names (void)
{
  g_assert_cmpstr (ddr_doh_status_to_string (DDR_DOH_OK), ==, "ok");
  g_assert_cmpstr (ddr_doh_status_to_string (DDR_DOH_TIMEOUT), ==, "timeout");
  g_assert_cmpstr (ddr_doh_status_to_string (DDR_DOH_TRANSPORT), ==, "transport");
  g_assert_cmpstr (ddr_doh_status_to_string (DDR_DOH_HTTP_STATUS), ==, "http-status");
  g_assert_cmpstr (ddr_doh_status_to_string (DDR_DOH_BAD_RESPONSE), ==, "bad-response");
  g_assert_cmpstr (ddr_doh_status_to_string (DDR_DOH_CANCELLED), ==, "cancelled");
  g_assert_cmpstr (ddr_doh_status_to_string ((DdrDohStatus) 99), ==, "unknown");
}

typedef struct {
  guint        calls;
  DdrDohStatus status;
} Done;

static void
on_done (DdrDohStatus status, guint8 *answer, gsize len, const DdrDnsInfo *rinfo,
         guint32 age_s, gpointer user_data)
{
  Done *d = user_data;

  d->calls++;
  d->status = status;
}

/* Never synchronous from send(); free() completes what is pending with CANCELLED.
 * The URL points at a closed loopback port, so nothing leaves the machine. */
static void
test_cancel_on_free (void)
{
  g_autoptr(GError) error = NULL;
  DdrUpstreamPool *pool = try_new ("https://127.0.0.1:9/dns-query", NULL, NULL, 2500, &error);
  guint8 query[29] = { 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                       4, 't', 'e', 's', 't', 0, 0, 1, 0, 1 };
  DdrDnsInfo qinfo = { 0 };
  Done d = { 0 };

  g_assert_no_error (error);
  ddr_upstream_pool_send (pool, query, 22, &qinfo, on_done, &d);
  g_assert_cmpuint (d.calls, ==, 0);
  g_assert_cmpuint (ddr_upstream_pool_inflight (pool), ==, 1);
  ddr_upstream_pool_free (pool);
  g_assert_cmpuint (d.calls, ==, 1);
  g_assert_cmpint (d.status, ==, DDR_DOH_CANCELLED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/upstream-pool/valid", test_valid);
  g_test_add_func ("/upstream-pool/bad-url", test_bad_url);
  g_test_add_func ("/upstream-pool/unparsable-url", test_unparsable_url);
  g_test_add_func ("/upstream-pool/bad-bootstrap", test_bad_bootstrap);
  g_test_add_func ("/upstream-pool/bad-ca-file", test_bad_ca_file);
  g_test_add_func ("/upstream-pool/bad-timeout", test_bad_timeout);
  g_test_add_func ("/upstream-pool/status-names", test_status_names);
  g_test_add_func ("/upstream-pool/cancel-on-free", test_cancel_on_free);
  return g_test_run ();
}
