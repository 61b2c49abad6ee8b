/* threatstop-ddr-admin: options and dispatch to the actions (which talk to the daemon over D-Bus). */
#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>

#include "ddr-admin-check.h"
#include "ddr-admin-client.h"
#include "ddr-admin-restore.h"
#include "ddr-admin-install.h"
#include "ddr-admin-metrics.h"
#include "ddr-admin-status.h"

/* The CLI's default pause (DESIGN.md); Pause() itself takes 0 = until resumed. */
#define DEFAULT_PAUSE_MINUTES 15
#define MAX_PAUSE_MINUTES     (7 * 24 * 60)

typedef struct {
  char    *action;
  gboolean json;
  char    *minutes;
  char    *output;
  char    *root;
  char    *state_dir;
} Options;

static int
simple_call (const char *method, GVariant *parameters, const char *done)
{
  g_autoptr(DdrAdminClient) client = ddr_admin_client_new ();
  int rc;

  if (!client)
    {
      if (parameters)
        g_variant_unref (g_variant_ref_sink (parameters));
      return 1;
    }
  rc = ddr_admin_client_call (client, method, parameters);
  if (rc == 0)
    g_print ("%s\n", done);
  return rc;
}

static int
action_pause (const Options *o)
{
  guint64 minutes = DEFAULT_PAUSE_MINUTES;

  if (o->minutes
      && !g_ascii_string_to_unsigned (o->minutes, 10, 0, MAX_PAUSE_MINUTES, &minutes, NULL))
    {
      g_printerr (_("threatstop-ddr-admin: invalid --minutes=%s: expected a number of minutes "
                    "from 0 (until resumed) to %u\n"), o->minutes, MAX_PAUSE_MINUTES);
      return 2;
    }
  return simple_call ("Pause", g_variant_new ("(u)", (guint32) minutes),
                      minutes == 0 ? _("Protection paused until it is resumed.")
                                   : _("Protection paused."));
}

int
main (int argc, char **argv)
{
  Options o = { 0 };
  const char *localedir;
  GOptionEntry entries[] = {
    { "action", 0, 0, G_OPTION_ARG_STRING, &o.action,
      N_("What to do: status, check, reload, pause, resume, reprobe, restore-dns, install, "
         "uninstall, metrics"), N_("ACTION") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json,
      N_("With --action=status: print one JSON object for scripts"), NULL },
    { "minutes", 0, 0, G_OPTION_ARG_STRING, &o.minutes,
      N_("With --action=pause: how long (default 15; 0 = until resumed)"), N_("N") },
    { "output", 0, 0, G_OPTION_ARG_FILENAME, &o.output,
      N_("With --action=metrics: replace FILE atomically instead of printing"), N_("FILE") },
    { "root", 0, 0, G_OPTION_ARG_FILENAME, &o.root,
      N_("Put every file path under DIR (tests, image building)"), N_("DIR") },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &o.state_dir,
      N_("With --action=restore-dns: the daemon's state directory"), N_("DIR") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  g_autofree char *minutes = NULL;
  g_autofree char *output = NULL;
  g_autofree char *root = NULL;
  g_autofree char *state_dir = NULL;
  g_auto(DdrInstallOptions) install = { 0 };

  setlocale (LC_ALL, "");
  /* Tests and uninstalled runs point this at the build tree's compiled catalogs. */
  localedir = g_getenv ("THREATSTOP_DDR_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir && *localedir ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
    _("Reports on and controls threatstop-ddrd, the ThreatSTOP DNS Defense Roaming daemon."));
  g_option_context_set_description (context,
    _("Exit status: 0 success, 1 failure (daemon not running, not authorized, or the\n"
      "system not protected for --action=check), 2 bad usage."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, ddr_admin_install_option_entries (&install),
                                     GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("threatstop-ddr-admin: %s\n", error->message);
      return 2;
    }
  action = o.action;
  minutes = o.minutes;
  output = o.output;
  root = o.root;
  state_dir = o.state_dir;
  if (argc > 1)
    {
      g_printerr (_("threatstop-ddr-admin: unexpected argument \"%s\"\n"), argv[1]);
      return 2;
    }
  if (!action)
    {
      g_printerr (_("threatstop-ddr-admin: no --action given; try --action=status "
                    "(--help lists the actions)\n"));
      return 2;
    }
  if (o.json && !g_str_equal (action, "status"))
    {
      g_printerr (_("threatstop-ddr-admin: --json only goes with --action=status\n"));
      return 2;
    }
  if (o.minutes && !g_str_equal (action, "pause"))
    {
      g_printerr (_("threatstop-ddr-admin: --minutes only goes with --action=pause\n"));
      return 2;
    }

  if (o.output && !g_str_equal (action, "metrics"))
    {
      g_printerr (_("threatstop-ddr-admin: --output only goes with --action=metrics\n"));
      return 2;
    }
  if (o.state_dir && !g_str_equal (action, "restore-dns"))
    {
      g_printerr (_("threatstop-ddr-admin: --state-dir only goes with --action=restore-dns\n"));
      return 2;
    }

  install.root = g_strdup (root);
  if (!ddr_admin_install_options_check (&install, action))
    return 2;

  if (g_str_equal (action, "install"))
    return ddr_admin_install (&install);
  if (g_str_equal (action, "uninstall"))
    return ddr_admin_uninstall (&install);
  if (g_str_equal (action, "status"))
    return ddr_admin_status (o.json);
  if (g_str_equal (action, "check"))
    return ddr_admin_check ();
  if (g_str_equal (action, "reload"))
    return simple_call ("Reload", NULL, _("Configuration reloaded."));
  if (g_str_equal (action, "pause"))
    return action_pause (&o);
  if (g_str_equal (action, "resume"))
    return simple_call ("Resume", NULL, _("Protection resumed."));
  if (g_str_equal (action, "reprobe"))
    return simple_call ("Reprobe", NULL, _("The daemon is checking the network again."));
  if (g_str_equal (action, "restore-dns"))
    return ddr_admin_restore_dns (o.root, o.state_dir);
  if (g_str_equal (action, "metrics"))
    return ddr_admin_metrics (o.output);
  g_printerr (_("threatstop-ddr-admin: unknown action \"%s\"; expected one of status, check, "
                "reload, pause, resume, reprobe, restore-dns, install, uninstall, metrics\n"), action);
  return 2;
}
