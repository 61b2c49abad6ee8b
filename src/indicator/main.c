/* threatstop-ddr-indicator: options, logging, signals; the desktop indicator's entry. */
#define G_LOG_DOMAIN "ddr-indicator"

#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>
#include <glib-unix.h>

#include "ddr-indicator.h"

#define ATTENTION_AFTER_S 30
#define INSTANCE_NAME     "com.threatstop.DDR1.Indicator"

/* One indicator per session: the autostart entry and the user unit may both start one. */
static gboolean
first_in_session (GDBusConnection *session, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  guint32 result = 0;

  reply = g_dbus_connection_call_sync (session, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", INSTANCE_NAME,
                                                      0x4 /* DO_NOT_QUEUE */),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                       NULL, error);
  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(u)", &result);
  return result == 1 /* PRIMARY_OWNER */;
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_session_closed (GDBusConnection *bus, gboolean remote_peer_vanished, GError *error,
                   gpointer user_data)
{
  /* the desktop session ended: nothing left to show anything on */
  g_message ("The session bus went away; exiting");
  g_main_loop_quit (user_data);
}

int
main (int argc, char **argv)
{
  g_autofree char *icon_theme_path = NULL;
  int attention_after = ATTENTION_AFTER_S;
  gboolean verbose = FALSE, version = FALSE;
  GOptionEntry entries[] = {
    { "icon-theme-path", 0, 0, G_OPTION_ARG_FILENAME, &icon_theme_path,
      N_("Where the icons are, if not in the icon theme"), N_("DIR") },
    { "attention-after", 0, 0, G_OPTION_ARG_INT, &attention_after,
      N_("Seconds without protection before the icon asks for attention (default 30)"),
      N_("SECONDS") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log debug messages"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) session = NULL;
  g_autoptr(DdrIndicator) indicator = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  DdrIndicatorOptions options = { 0 };
  const char *localedir;

  setlocale (LC_ALL, "");
  /* Tests and uninstalled runs point this at the build tree's compiled catalogs. */
  localedir = g_getenv ("THREATSTOP_DDR_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir && *localedir ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
    _("Shows the state of ThreatSTOP DNS Defense Roaming in the desktop's panel and\n"
      "notifications, and lets you log in to captive portals, pause and resume."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("threatstop-ddr-indicator: %s\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      g_printerr (_("threatstop-ddr-indicator: unexpected argument \"%s\"\n"), argv[1]);
      return 2;
    }
  if (version)
    {
      g_print ("threatstop-ddr-indicator %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (attention_after < 0 || attention_after > 24 * 3600)
    {
      g_printerr (_("threatstop-ddr-indicator: --attention-after must be 0 to 86400 seconds\n"));
      return 2;
    }
  if (verbose)
    g_log_set_debug_enabled (TRUE);

  session = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (session == NULL)
    {
      g_printerr (_("threatstop-ddr-indicator: no desktop session bus: %s\n"), error->message);
      return 1;
    }
  g_dbus_connection_set_exit_on_close (session, FALSE);
  if (!first_in_session (session, &error))
    {
      if (error)
        {
          g_printerr ("threatstop-ddr-indicator: %s\n", error->message);
          return 1;
        }
      g_message ("An indicator already runs in this session; exiting");
      return 0;
    }

  loop = g_main_loop_new (NULL, FALSE);
  g_signal_connect (session, "closed", G_CALLBACK (on_session_closed), loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_unix_signal_add (SIGINT, on_signal, loop);

  options.icon_theme_path = icon_theme_path ? icon_theme_path : DDR_ICON_THEME_PATH;
  options.attention_after_s = (guint) attention_after;
  indicator = ddr_indicator_new (session, &options, &error);
  if (indicator == NULL)
    {
      g_printerr ("threatstop-ddr-indicator: %s\n", error->message);
      return 1;
    }
  g_main_loop_run (loop);
  g_clear_pointer (&indicator, ddr_indicator_free);
  /* let cancelled calls finish before the connection goes */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}
