/* Unit tests of ddr.conf loading and listen-address parsing. */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "ddr-config.h"
#include "ddr-listen-address.h"

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("ddr-config-XXXXXX", NULL);
  f->path = g_build_filename (f->dir, "ddr.conf", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static DdrConfig *
load (Fixture *f, const char *text, GError **error)
{
  g_assert_true (g_file_set_contents (f->path, text, -1, NULL));
  return ddr_config_load (f->path, "/nonexistent-state", error);
}

#define BASE "[service]\nurl=https://doh.test/dns-query\n"

static void
test_defaults (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrConfig) c = load (f, BASE, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (c->relay.upstream.urls[0], ==, "https://doh.test/dns-query");
  g_assert_null (c->relay.upstream.urls[1]);
  g_assert_cmpuint (c->relay.upstream.timeout_ms, ==, 2500);
  g_assert_cmpstr (c->relay.listen[0], ==, "127.0.0.1:53");
  g_assert_cmpstr (c->relay.listen[1], ==, "[::1]:53");
  g_assert_cmpstr (c->relay.acl[0], ==, "127.0.0.0/8");
  g_assert_cmpuint (c->relay.cache_size, ==, 10000);
  g_assert_cmpuint (c->relay.max_inflight, ==, 10000);
  g_assert_cmpuint (c->relay.tcp_idle_timeout_ms, ==, 10000);
  g_assert_cmpuint (c->relay.tcp_max_clients, ==, 256);
  g_assert_false (c->relay.query_log);
  g_assert_cmpstr (c->roaming_enabled, ==, "auto");
  g_assert_cmpstr (c->on_service_unreachable, ==, "fallback");
  g_assert_cmpstr (c->relay.upstream.state_dir, ==, "/nonexistent-state");
}

static void
test_full (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrConfig) c = load (f,
    "[service]\n"
    "url=https://a.test/dns-query; https://b.test:8443/q?x=1;https://c.test/dns-query{?dns}\n"
    "bootstrap=198.51.100.10;2001:db8::1\n"
    "check-domain=check.test\n"
    "timeout-ms=1500\n"
    "method=post\n"
    "[relay]\n"
    "listen=0.0.0.0;[::]:5300;192.0.2.1:53\n"
    "acl=10.0.0.0/8;fc00::/7\n"
    "cache-size=0\n"
    "query-log=true\n"
    "tcp-max-clients=4\n"
    "[roaming]\n"
    "enabled=false\n"
    "dns-backend=resolv.conf\n"
    "trusted-networks=a;b\n"
    "trust-protected-networks=true\n"
    "on-service-unreachable=block\n", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (c->relay.upstream.urls[1], ==, "https://b.test:8443/q?x=1");
  g_assert_cmpstr (c->relay.upstream.urls[2], ==, "https://c.test/dns-query");
  g_assert_cmpstr (c->relay.upstream.bootstrap[1], ==, "2001:db8::1");
  g_assert_cmpstr (c->relay.check_domain, ==, "check.test");
  g_assert_cmpuint (c->relay.upstream.timeout_ms, ==, 1500);
  g_assert_cmpint (c->relay.upstream.method, ==, DDR_DOH_METHOD_POST);
  g_assert_cmpstr (c->relay.listen[2], ==, "192.0.2.1:53");
  g_assert_cmpuint (c->relay.cache_size, ==, 0);
  g_assert_true (c->relay.query_log);
  g_assert_cmpuint (c->relay.tcp_max_clients, ==, 4);
  g_assert_cmpstr (c->dns_backend, ==, "resolv.conf");
  g_assert_cmpstr (c->trusted_networks[1], ==, "b");
  g_assert_true (c->trust_protected_networks);
  g_assert_cmpstr (c->on_service_unreachable, ==, "block");
}

/* Each bad value is refused with a message naming the file, group, key and value. */
static void
test_errors (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *text;
    const char *expect[3];
  } cases[] = {
    { "[service]\nurl=http://doh.test/dns-query\n",
      { "[service] url=http://doh.test/dns-query", "not an https URL", NULL } },
    { "[service]\nurl=https:///dns-query\n", { "[service] url=", "https://host", NULL } },
    { "[relay]\nlisten=127.0.0.1\n", { "[service] url is missing", NULL } },
    { BASE "bootstrap=1.2.3\n", { "bootstrap=1.2.3", "\"1.2.3\" is not an IP address", NULL } },
    { BASE "ca-file=/nonexistent/ca.pem\n", { "ca-file=/nonexistent/ca.pem", "cannot read", NULL } },
    { BASE "timeout-ms=0\n", { "[service] timeout-ms=0", "from 100 to 60000", NULL } },
    { BASE "timeout-ms=fast\n", { "timeout-ms=fast", "whole number", NULL } },
    { BASE "method=put\n", { "method=put", "get or post", NULL } },
    { BASE "[relay]\nlisten=127.0.0.1:99999\n", { "[relay] listen=127.0.0.1:99999", "IP[:PORT]", NULL } },
    { BASE "[relay]\nlisten=localhost:53\n", { "listen=localhost:53", "invalid listen address", NULL } },
    { BASE "[relay]\nlisten=[127.0.0.1]:53\n", { "listen=[127.0.0.1]:53", NULL } },
    { BASE "[relay]\nlisten=\n", { "[relay] listen=", "at least one", NULL } },
    { BASE "[relay]\nacl=10.0.0.0/33\n", { "[relay] acl=10.0.0.0/33", "10.0.0.0/33", NULL } },
    { BASE "[relay]\ncache-size=-1\n", { "cache-size=-1", NULL } },
    { BASE "[relay]\nquery-log=maybe\n", { "query-log=maybe", "true or false", NULL } },
    { BASE "[relay]\ncache-min-ttl=100\ncache-max-ttl=10\n", { "cache-min-ttl", "cache-max-ttl", NULL } },
    { BASE "[roaming]\nenabled=sometimes\n", { "[roaming] enabled=sometimes", "auto, true, false", NULL } },
    { BASE "[roaming]\nportal-probe-url=https://x/\n", { "portal-probe-url", "http://", NULL } },
    { "not a key file\n", { "ddr.conf", NULL } },
    { BASE "url=https://other.test/dns-query\n", { "line 3: [service] url is set twice", "line 2", NULL } },
    { BASE "check-domain=a\xff" "b\n", { "line 3 is not valid UTF-8", NULL } },
    { BASE "[relay]\nlisten=::1:5353\n", { "listen=::1:5353", "in brackets", NULL } },
    { "[service]\nurl=https://doh.test:99999/dns-query\n", { "not a valid URL", "port", NULL } },
    { "[service]\nurl=https://doh.test/q{?dns,x}\n", { "URI template", NULL } },
    /* issue 10.8: the DoH host's own name answers the same everywhere */
    { BASE "[roaming]\ntrust-protected-networks=true\n",
      { "[roaming] trust-protected-networks=true", "requires [service] check-domain", NULL } },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(DdrConfig) c = load (f, cases[i].text, &error);

      g_assert_null (c);
      g_assert_nonnull (error);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, error->message);
      g_assert_true (g_str_has_prefix (error->message, f->path));
      for (gsize j = 0; cases[i].expect[j]; j++)
        if (!strstr (error->message, cases[i].expect[j]))
          g_error ("case %" G_GSIZE_FORMAT ": \"%s\" does not contain \"%s\"", i,
                   error->message, cases[i].expect[j]);
    }
}

static void
test_missing_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrConfig) c = ddr_config_load ("/nonexistent/ddr.conf", "/tmp", &error);

  g_assert_null (c);
  g_assert_error (error, DDR_CONFIG_ERROR, DDR_CONFIG_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/nonexistent/ddr.conf"));
}

static void
test_unknown_key_warns (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrConfig) c = NULL;

  g_test_expect_message ("ddr-config", G_LOG_LEVEL_WARNING,
                         "*unknown key [relay] colour (ignored; the keys of [relay] are: listen, acl,*");
  c = load (f, BASE "[relay]\ncolour=blue\n", &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_nonnull (c);
}

static void
test_listen_address (void)
{
  static const struct { const char *text; const char *ip; guint port; } good[] = {
    { "127.0.0.1:53", "127.0.0.1", 53 },
    { "127.0.0.1", "127.0.0.1", 53 },
    { "[::1]:5300", "::1", 5300 },
    { "[::1]", "::1", 53 },
    { "0.0.0.0", "0.0.0.0", 53 },
    { "[fe80::1]", "fe80::1", 53 },
  };
  static const char *bad[] = {
    "", ":53", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "[::1", "[::1]53",
    "host.example:53", "1.2.3.4.5", "[1.2.3.4]:53", "127.0.0.1:53x",
    "::1", "::1:5353", "fe80::1",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetSocketAddress) a = ddr_parse_listen_address (good[i].text, &error);
      g_autofree char *ip = NULL;

      g_assert_no_error (error);
      ip = g_inet_address_to_string (g_inet_socket_address_get_address (a));
      g_assert_cmpstr (ip, ==, good[i].ip);
      g_assert_cmpuint (g_inet_socket_address_get_port (a), ==, good[i].port);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetSocketAddress) a = ddr_parse_listen_address (bad[i], &error);

      if (a)
        g_error ("\"%s\" was accepted", bad[i]);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
}

/* Roaming points the system at 127.0.0.1 port 53 (NM and resolv.conf carry no port). */
static void
test_roaming_needs_loopback_53 (Fixture *f, gconstpointer data)
{
  static const char *const bad[] = {
    "listen=192.168.1.2:53", "listen=127.0.0.1:5353", "listen=[::1]:53", NULL };
  static const char *const good[] = { "listen=127.0.0.1:53", "listen=0.0.0.0:53",
                                      "listen=192.168.1.2;127.0.0.1", NULL };

  for (guint i = 0; bad[i]; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *text = g_strdup_printf (BASE "[relay]\n%s\n[roaming]\nenabled=true\n",
                                               bad[i]);
      g_autoptr(DdrConfig) c = load (f, text, &error);

      g_assert_null (c);
      g_assert_error (error, DDR_CONFIG_ERROR, DDR_CONFIG_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, "listen"));
      g_assert_nonnull (strstr (error->message, "enabled"));
      g_assert_nonnull (strstr (error->message, "127.0.0.1:53"));
    }
  for (guint i = 0; good[i]; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *text = g_strdup_printf (BASE "[relay]\n%s\n[roaming]\nenabled=true\n",
                                               good[i]);
      g_autoptr(DdrConfig) c = load (f, text, &error);

      g_assert_no_error (error);
      g_assert_true (ddr_config_roaming_listener (c));
    }
  for (guint i = 0; bad[i]; i++)
    {
      /* auto: a forwarder, which the daemon says in Reason */
      g_autoptr(GError) error = NULL;
      g_autofree char *text = g_strdup_printf (BASE "[relay]\n%s\n", bad[i]);
      g_autoptr(DdrConfig) c = load (f, text, &error);

      g_assert_no_error (error);
      g_assert_false (ddr_config_roaming_listener (c));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/config/defaults", Fixture, NULL, fixture_setup, test_defaults, fixture_teardown);
  g_test_add ("/config/full", Fixture, NULL, fixture_setup, test_full, fixture_teardown);
  g_test_add ("/config/errors", Fixture, NULL, fixture_setup, test_errors, fixture_teardown);
  g_test_add ("/config/unknown-key", Fixture, NULL, fixture_setup, test_unknown_key_warns,
              fixture_teardown);
  g_test_add ("/config/roaming-needs-loopback-53", Fixture, NULL, fixture_setup,
              test_roaming_needs_loopback_53, fixture_teardown);
  g_test_add_func ("/config/missing-file", test_missing_file);
  g_test_add_func ("/config/listen-address", test_listen_address);
  return g_test_run ();
}
