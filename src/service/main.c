/* threatstop-ddrd: options, logging, signals; builds the relay and runs the main loop. */
#define G_LOG_DOMAIN "ddr-daemon"

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <glib/gi18n.h>
#include <glib-unix.h>
#include <curl/curl.h>

#include "ddr-config.h"
#include "ddr-relay.h"
#include "ddr-sd-notify.h"

typedef struct {
  GMainLoop *loop;
  char      *config_path;
  char      *state_dir;
  DdrConfig *config;
  DdrRelay  *relay;
} DdrDaemon;

static gboolean
on_quit (gpointer user_data)
{
  DdrDaemon *d = user_data;

  g_message ("stopping");
  ddr_sd_notify ("STOPPING=1");
  g_main_loop_quit (d->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_reload (gpointer user_data)
{
  DdrDaemon *d = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrConfig) config = NULL;

  ddr_sd_notify ("RELOADING=1");
  config = ddr_config_load (d->config_path, d->state_dir, &error);
  if (!config || !ddr_relay_reconfigure (d->relay, &config->relay, &error))
    g_warning ("reload refused, the running configuration stays: %s", error->message);
  else
    {
      ddr_config_free (d->config);
      d->config = g_steal_pointer (&config);
      g_message ("configuration reloaded from %s", d->config_path);
    }
  ddr_sd_notify ("READY=1");
  return G_SOURCE_CONTINUE;
}

static gboolean
on_statistics (gpointer user_data)
{
  DdrDaemon *d = user_data;

  ddr_relay_log_statistics (d->relay);
  return G_SOURCE_CONTINUE;
}

static int
run (DdrDaemon *d)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *status = NULL;

  d->config = ddr_config_load (d->config_path, d->state_dir, &error);
  if (!d->config)
    {
      g_printerr ("threatstop-ddrd: %s\n", error->message);
      return 2;
    }
  if (g_mkdir_with_parents (d->state_dir, 0755) != 0)
    g_warning ("cannot create state directory %s: %s", d->state_dir, g_strerror (errno));

  d->relay = ddr_relay_new (&d->config->relay, &error);
  if (!d->relay)
    {
      g_printerr ("threatstop-ddrd: %s\n", error->message);
      g_clear_pointer (&d->config, ddr_config_free);
      return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT) ? 2 : 1;
    }

  d->loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_quit, d);
  g_unix_signal_add (SIGINT, on_quit, d);
  g_unix_signal_add (SIGHUP, on_reload, d);
  g_unix_signal_add (SIGUSR1, on_statistics, d);

  status = g_strdup_printf ("READY=1\nSTATUS=relaying to %s", d->config->relay.upstream.urls[0]);
  ddr_sd_notify (status);
  g_message ("threatstop-ddrd %s ready (forwarding to %s)", PACKAGE_VERSION,
             d->config->relay.upstream.urls[0]);
  g_main_loop_run (d->loop);

  g_clear_pointer (&d->relay, ddr_relay_free);
  g_clear_pointer (&d->loop, g_main_loop_unref);
  g_clear_pointer (&d->config, ddr_config_free);
  return 0;
}

int
main (int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  g_autofree char *state_dir = NULL;
  gboolean no_bus = FALSE, verbose = FALSE, version = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      N_("Configuration file (default " DDR_SYSCONFDIR "/ddr.conf)"), N_("PATH") },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      N_("State directory (default " DDR_STATEDIR ")"), N_("DIR") },
    { "no-bus", 0, 0, G_OPTION_ARG_NONE, &no_bus,
      N_("Do not use D-Bus at all (the relay runs, roaming is off)"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log debug messages"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  DdrDaemon daemon = { 0 };
  int rc;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
    _("ThreatSTOP DNS Defense Roaming daemon: a local DNS relay that forwards\n"
      "every query over DNS-over-HTTPS to the ThreatSTOP service."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("threatstop-ddrd: %s\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      g_printerr ("threatstop-ddrd: unexpected argument \"%s\"\n", argv[1]);
      return 2;
    }
  if (version)
    {
      g_print ("threatstop-ddrd %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (verbose)
    g_log_set_debug_enabled (TRUE);

  /* A client that vanishes mid-write must not kill the daemon. */
  signal (SIGPIPE, SIG_IGN);
  curl_global_init (CURL_GLOBAL_DEFAULT);

  daemon.config_path = config_path ? config_path : g_strdup (DDR_SYSCONFDIR "/ddr.conf");
  daemon.state_dir = state_dir ? state_dir : g_strdup (DDR_STATEDIR);
  config_path = NULL;
  state_dir = NULL;
  if (!no_bus)
    g_debug ("D-Bus service not built yet; running as a plain relay");

  rc = run (&daemon);
  g_free (daemon.config_path);
  g_free (daemon.state_dir);
  curl_global_cleanup ();
  return rc;
}
