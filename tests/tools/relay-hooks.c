/* relay-hooks: a DdrRelay on a main loop driven by line commands on stdin, for
 * the integration test of the roaming hooks (test_relay_hooks.py). One line
 * out per command, plus "health ..." and "canary seen" lines as they happen. */
#include "config.h"

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <stdio.h>
#include <string.h>

#include "ddr-relay.h"
#include "ddr-dns-udp-client.h"

static char   **opt_urls;
static char    *opt_ca_file;
static char    *opt_listen;
static int      opt_timeout_ms = 1500;

static GOptionEntry entries[] = {
  { "url", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_urls, "DoH URL (repeatable)", "URL" },
  { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_ca_file, "CA bundle", "FILE" },
  { "listen", 0, 0, G_OPTION_ARG_STRING, &opt_listen, "Listen address", "IP:PORT" },
  { "timeout-ms", 0, 0, G_OPTION_ARG_INT, &opt_timeout_ms, "DoH timeout", "MS" },
  { NULL }
};

static GMainLoop        *loop;
static DdrRelay         *relay;
static GDataInputStream *input;
static int               exit_code;

static void
say (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  vprintf (format, ap);
  va_end (ap);
  putchar ('\n');
  fflush (stdout);
}

static void
make_config (DdrRelayConfig *c, char **urls)
{
  char *boot[] = { "127.0.0.1", NULL };
  char *listen[] = { opt_listen, NULL };
  char *acl[] = { "127.0.0.0/8", NULL };

  memset (c, 0, sizeof *c);
  c->upstream.urls = g_strdupv (urls);
  c->upstream.bootstrap = g_strdupv (boot);
  c->upstream.ca_file = g_strdup (opt_ca_file);
  c->upstream.timeout_ms = (guint) opt_timeout_ms;
  c->listen = g_strdupv (listen);
  c->acl = g_strdupv (acl);
  c->cache_size = 1000;
  c->cache_max_ttl = 86400;
  c->max_inflight = 100;
  c->tcp_idle_timeout_ms = 10000;
  c->tcp_max_clients = 16;
}

static void
say_error (const char *what, const GError *error)
{
  g_autofree char *code = g_enum_to_string (G_TYPE_IO_ERROR_ENUM, error->code);

  say ("%s error %s %s", what, code, error->message);
}

static void
on_health (gboolean all_failing, gpointer user_data)
{
  (void) user_data;
  say ("health %s", all_failing ? "failing" : "ok");
}

static void
on_canary (gpointer user_data)
{
  say ("canary seen %s", (const char *) user_data);
}

static void
on_probe (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) addrs = ddr_relay_probe_finish (relay, res, &error);
  g_autofree char *joined = addrs ? g_strjoinv (",", addrs) : NULL;

  (void) source;
  if (addrs)
    say ("probe ok %s", joined);
  else
    say_error ("probe", error);
  if (user_data)   /* probe-free: the relay is gone; this was the last thing to wait for */
    g_main_loop_quit (loop);
}

static void
on_lookup (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  guint rcode = 99;
  g_auto(GStrv) addrs = ddr_dns_lookup_finish (res, &rcode, &error);
  g_autofree char *joined = addrs ? g_strjoinv (",", addrs) : NULL;

  (void) source;
  (void) user_data;
  if (addrs)
    say ("lookup rcode=%u %s", rcode, joined);
  else
    say_error ("lookup", error);
}

/* "routes corp.example=127.0.0.1:5353,127.0.0.2 =127.0.0.1:5353" ("" before = is single-label) */
static void
set_routes (char **words)
{
  guint n = g_strv_length (words);
  g_autofree DdrLocalRoute *routes = g_new0 (DdrLocalRoute, MAX (n, 1));
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  for (guint i = 0; i < n; i++)
    {
      char **parts = g_strsplit (words[i], "=", 2);
      char **servers = parts[1] ? g_strsplit (parts[1], ",", -1) : g_new0 (char *, 1);

      g_ptr_array_add (keep, parts);
      g_ptr_array_add (keep, servers);
      routes[i].domain = parts[0];
      routes[i].servers = (const char *const *) servers;
    }
  ddr_relay_set_local_routes (relay, routes, n);
  say ("routes set");
}

static void read_next (void);

static void
run (char *line)
{
  g_auto(GStrv) words = g_strsplit (g_strstrip (line), " ", -1);
  const char *cmd = words[0] ? words[0] : "";

  if (g_str_equal (cmd, "routes"))
    set_routes (words + 1);
  else if (g_str_equal (cmd, "route") && words[1])
    {
      const char *const *servers = ddr_relay_route_for (relay, words[1]);
      g_autofree char *joined = servers ? g_strjoinv (",", (char **) servers) : g_strdup ("doh");

      say ("route %s %s", words[1], joined);
    }
  else if (g_str_equal (cmd, "probe") && words[1])
    ddr_relay_probe_async (relay, words[1], NULL, on_probe, NULL);
  else if (g_str_equal (cmd, "probe-cancel") && words[1])
    {
      /* Cancelled by the caller before the pool answers. */
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();

      ddr_relay_probe_async (relay, words[1], cancellable, on_probe, NULL);
      g_cancellable_cancel (cancellable);
    }
  else if (g_str_equal (cmd, "probe-free") && words[1])
    {
      /* A probe pending while the relay goes away: it must complete, cancelled. */
      ddr_relay_probe_async (relay, words[1], NULL, on_probe, GINT_TO_POINTER (1));
      g_clear_pointer (&relay, ddr_relay_free);
      say ("freed");
      return;   /* no more commands */
    }
  else if (g_str_equal (cmd, "canary"))
    {
      static char name[256];

      g_strlcpy (name, words[1] ? words[1] : "", sizeof name);
      ddr_relay_expect_canary (relay, words[1], on_canary, name);
      say ("canary %s", words[1] ? "set" : "cleared");
    }
  else if (g_str_equal (cmd, "lookup") && words[1] && words[2] && words[3])
    {
      const char *servers[] = { words[1], NULL };

      ddr_dns_lookup_async (servers, words[2], g_str_equal (words[3], "AAAA") ? 28 : 1, 1000, NULL,
                            on_lookup, NULL);
    }
  else if (g_str_equal (cmd, "stats"))
    {
      const DdrStats *s = ddr_relay_get_stats (relay);

      say ("stats local_forwarded=%" G_GUINT64_FORMAT " servfail=%" G_GUINT64_FORMAT
           " queries=%" G_GUINT64_FORMAT " inflight=%u", s->local_forwarded, s->servfail,
           s->queries, ddr_relay_get_inflight (relay));
    }
  else if (g_str_equal (cmd, "reconfigure") && words[1])
    {
      DdrRelayConfig c;
      g_autoptr(GError) error = NULL;

      make_config (&c, words + 1);
      if (ddr_relay_reconfigure (relay, &c, &error))
        say ("reconfigured");
      else
        say ("reconfigure error %s", error->message);
      ddr_relay_config_clear (&c);
    }
  else if (g_str_equal (cmd, "statistics"))
    {
      ddr_relay_log_statistics (relay);
      say ("logged");
    }
  else if (g_str_equal (cmd, "quit"))
    {
      g_clear_pointer (&relay, ddr_relay_free);
      g_main_loop_quit (loop);
      return;
    }
  else
    say ("unknown command: %s", line);
  read_next ();
}

static void
on_line (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), res,
                                                                NULL, &error);

  (void) user_data;
  if (!line)
    {
      /* stdin closed: stop as quit would */
      g_clear_pointer (&relay, ddr_relay_free);
      g_main_loop_quit (loop);
      return;
    }
  run (line);
}

static void
read_next (void)
{
  g_data_input_stream_read_line_async (input, G_PRIORITY_DEFAULT, NULL, on_line, NULL);
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- drive the relay's roaming hooks");
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) in = NULL;
  DdrRelayConfig c;

  /* stdout carries the answers to commands; every log line goes to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || !opt_urls || !opt_listen)
    {
      g_printerr ("relay-hooks: %s\n", error ? error->message : "--url and --listen are required");
      return 2;
    }
  make_config (&c, opt_urls);
  relay = ddr_relay_new (&c, &error);
  ddr_relay_config_clear (&c);
  if (!relay)
    {
      g_printerr ("relay-hooks: %s\n", error->message);
      return 1;
    }
  ddr_relay_set_health_callback (relay, on_health, NULL);
  loop = g_main_loop_new (NULL, FALSE);
  in = g_unix_input_stream_new (0, FALSE);
  input = g_data_input_stream_new (in);
  say ("ready");
  read_next ();
  g_main_loop_run (loop);
  /* Let idles (a cancelled probe's return) run out before leaving. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&input);
  g_main_loop_unref (loop);
  g_strfreev (opt_urls);
  g_free (opt_ca_file);
  g_free (opt_listen);
  return exit_code;
}
