/* --action=uninstall: undo exactly what install.state says install did. */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ddr-admin-dnsdist.h"
#include "ddr-admin-files.h"
#include "ddr-admin-install.h"
#include "ddr-admin-restore.h"
#include "ddr-admin-resolved.h"
#include "ddr-admin-state.h"
#include "ddr-admin-system.h"
#include "ddr-steer.h"

#define DNSDIST_UNIT "dnsdist.service"

static void
warn (GError **error)
{
  g_printerr ("threatstop-ddr-admin: %s\n", (*error)->message);
  g_clear_error (error);
}

/* The steering's own undo, as --action=restore-dns does it. Under --root only the
 * files under root: no bus, so nothing of this machine is touched. */
static void
restore_dns (const char *root)
{
  g_autoptr(GString) report = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *state_dir = NULL;

  g_print (_("Restoring the system's DNS settings…\n"));
  if (!root)
    {
      if (ddr_admin_restore_dns (NULL, NULL) != 0)
        g_printerr (_("threatstop-ddr-admin: run threatstop-ddr-admin --action=restore-dns "
                      "again once the problem above is fixed.\n"));
      return;
    }
  state_dir = g_strconcat (root, DDR_STATEDIR, NULL);
  if (!ddr_steer_restore_all (NULL, root, state_dir, report, &error))
    g_printerr ("threatstop-ddr-admin: %s\n", error->message);
  g_print ("%s", report->str);
}

static void
stop_ddr (const char *root, DdrInstallState *state)
{
  g_autoptr(GError) error = NULL;

  if (root)
    {
      g_print (_("Not stopping or disabling %s (--root).\n"), DDR_UNIT_NAME);
      return;
    }
  g_print (_("Stopping %s…\n"), DDR_UNIT_NAME);
  if (!ddr_admin_systemctl (root, "stop", DDR_UNIT_NAME, &error))
    warn (&error);
  if (!ddr_admin_systemctl (root, "disable", DDR_UNIT_NAME, &error))
    warn (&error);
}

/* dnsdist goes back to what it was doing before install, with its old configuration. */
static void
restore_dnsdist (const char *root, DdrInstallState *state)
{
  g_autoptr(GError) error = NULL;
  gboolean was_active = g_strcmp0 (ddr_install_state_get (state, "dnsdist-was-active"),
                                   "true") == 0;

  if (root)
    {
      g_print (_("Not stopping or restarting %s (--root).\n"), DNSDIST_UNIT);
      return;
    }
  if (!ddr_admin_systemctl (root, was_active ? "restart" : "stop", DNSDIST_UNIT, &error))
    warn (&error);
  if (ddr_install_state_has (state, "enabled", DNSDIST_UNIT)
      && !ddr_admin_systemctl (root, "disable", DNSDIST_UNIT, &error))
    warn (&error);
}

static void
reenable (const char *root, DdrInstallState *state)
{
  g_auto(GStrv) units = ddr_install_state_list (state, "disabled");
  g_autoptr(GError) error = NULL;

  for (guint i = 0; units[i]; i++)
    {
      if (root)
        {
          g_print (_("Not re-enabling %s (--root).\n"), units[i]);
          continue;
        }
      if (!ddr_admin_systemctl (root, "enable", units[i], &error)
          || !ddr_admin_systemctl (root, "start", units[i], &error))
        warn (&error);
      else
        g_print (_("Re-enabled %s\n"), units[i]);
    }
}

int
ddr_admin_uninstall (const DdrInstallOptions *o)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrInstallState) state = NULL;
  g_autofree char *state_file = ddr_admin_path (o->root, DDR_SYSCONFDIR "/install.state");
  gboolean existed;
  gboolean dnsdist;

  state = ddr_install_state_load (o->root, &existed, &error);
  if (!state)
    {
      g_printerr ("threatstop-ddr-admin: %s\n", error->message);
      return 1;
    }
  if (!existed)
    {
      g_print (_("Nothing to uninstall: %s does not exist (threatstop-ddr was not installed "
                 "with --action=install, or is uninstalled already).\n"), state_file);
      return 0;
    }
  dnsdist = g_strcmp0 (ddr_install_state_get (state, "engine"), "dnsdist") == 0;
  if (!dnsdist)
    {
      stop_ddr (o->root, state);
      restore_dns (o->root);
    }
  if (!ddr_install_state_undo_files (state, &error))
    {
      g_printerr (_("threatstop-ddr-admin: %s\nRun --action=uninstall again once this is "
                    "fixed; %s is kept.\n"), error->message, state_file);
      return 1;
    }
  if (dnsdist)
    restore_dnsdist (o->root, state);
  else if (!o->root && ddr_install_state_has (state, "created", DDR_UNIT_ETC)
           && !ddr_admin_systemctl (NULL, "daemon-reload", NULL, &error))
    warn (&error);
  ddr_admin_resolved_undo (o->root, state);
  reenable (o->root, state);
  if (!ddr_install_state_remove_file (state, &error))
    {
      g_printerr ("threatstop-ddr-admin: %s\n", error->message);
      return 1;
    }
  g_print ("%s\n", _("threatstop-ddr is uninstalled."));
  return 0;
}
