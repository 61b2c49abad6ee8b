/* threatstop-ddrd: options, logging, signals; builds the manager, owns the bus name last. */
#define G_LOG_DOMAIN "ddr-daemon"

#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <glib/gi18n.h>
#include <glib-unix.h>

#include "ddr-dbus-service.h"
#include "ddr-manager.h"
#include "ddr-sd-notify.h"

typedef struct {
  GMainLoop  *loop;
  DdrManager *manager;
  gboolean    ready_sent;
} DdrDaemon;

/* Info is the journal's story - state transitions, steering, network events - and is
 * always written; GLib's default writer drops it unless debugging. Debug messages
 * still need -v or G_MESSAGES_DEBUG. */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if ((level & G_LOG_LEVEL_MASK) == G_LOG_LEVEL_INFO)
    {
      if (g_log_writer_is_journald (fileno (stderr)) &&
          g_log_writer_journald (level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
        return G_LOG_WRITER_HANDLED;
      return g_log_writer_standard_streams (level, fields, n_fields, user_data);
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

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

  /* The same path as D-Bus Reload(); it logs its own outcome. */
  ddr_manager_reload (d->manager, NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_statistics (gpointer user_data)
{
  DdrDaemon *d = user_data;

  ddr_manager_log_statistics (d->manager);
  return G_SOURCE_CONTINUE;
}

/* Ready once the relay is bound and the bus name is settled (owned, taken, or no bus). */
static void
on_ready (gpointer user_data)
{
  DdrDaemon *d = user_data;
  g_autofree char *status = NULL;

  if (d->ready_sent)
    return;
  d->ready_sent = TRUE;
  status = g_strdup_printf ("READY=1\nSTATUS=%s", ddr_manager_get_summary (d->manager));
  ddr_sd_notify (status);
  ddr_sd_watchdog_start ();
  g_message ("threatstop-ddrd %s ready (%s)", PACKAGE_VERSION,
             ddr_manager_get_summary (d->manager));
}

static int
run (const char *config_path, const char *state_dir, gboolean no_bus)
{
  g_autoptr(GError) error = NULL;
  DdrDbusService *service;
  DdrDaemon d = { 0 };
  gboolean bad_config = FALSE;

  d.manager = ddr_manager_new (config_path, state_dir, &bad_config, &error);
  if (!d.manager)
    {
      g_printerr ("threatstop-ddrd: %s\n", error->message);
      return bad_config ? 2 : 1;
    }
  service = DDR_DBUS_SERVICE (ddr_manager_get_service (d.manager));

  d.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_quit, &d);
  g_unix_signal_add (SIGINT, on_quit, &d);
  g_unix_signal_add (SIGHUP, on_reload, &d);
  g_unix_signal_add (SIGUSR1, on_statistics, &d);

  ddr_manager_start (d.manager, !no_bus);
  if (no_bus)
    on_ready (&d);
  else
    ddr_dbus_service_publish (service, G_CALLBACK (on_ready), &d);
  g_main_loop_run (d.loop);

  if (!no_bus)
    ddr_dbus_service_unpublish (service);
  /* Let cancelled polkit checks and bus callbacks finish before the objects go. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&d.manager);
  /* ...and the roaming checks the manager cancelled on its way out. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_pointer (&d.loop, g_main_loop_unref);
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
      N_("Configuration file"), N_("PATH") },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      N_("State directory"), N_("DIR") },
    { "no-bus", 0, 0, G_OPTION_ARG_NONE, &no_bus,
      N_("Do not use D-Bus at all (the relay runs, roaming is off)"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log debug messages"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *description = NULL;
  g_autoptr(GError) error = NULL;
  int rc;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
    _("ThreatSTOP DNS Defense Roaming daemon: a local DNS relay that forwards\n"
      "every query over DNS-over-HTTPS to the ThreatSTOP service."));
  description = g_strdup_printf (_("Defaults: --config=%s --state-dir=%s"),
                                 DDR_SYSCONFDIR "/ddr.conf", DDR_STATEDIR);
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("threatstop-ddrd: %s\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      g_printerr (_("threatstop-ddrd: unexpected argument \"%s\"\n"), argv[1]);
      return 2;
    }
  if (version)
    {
      g_print ("threatstop-ddrd %s\n", PACKAGE_VERSION);
      return 0;
    }
  g_log_set_writer_func (log_writer, NULL, NULL);
  if (verbose)
    g_log_set_debug_enabled (TRUE);

  /* A client that vanishes mid-write must not kill the daemon. */
  signal (SIGPIPE, SIG_IGN);

  /* Own the main context for the daemon's whole life, not only while the loop runs:
   * otherwise, during shutdown, GDBus's worker thread can acquire the unowned context
   * and run a method handler (a late NotifyNetworkEvent) in its own thread while this
   * one frees the manager (seen as a SIGSEGV at stop). Owned, every dispatch waits
   * for the loop or the drain loops in run(), on this thread. */
  g_main_context_acquire (NULL);
  rc = run (config_path ? config_path : DDR_SYSCONFDIR "/ddr.conf",
            state_dir ? state_dir : DDR_STATEDIR, no_bus);
  g_main_context_release (NULL);
  return rc;
}
