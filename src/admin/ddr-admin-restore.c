/* --action=restore-dns: put the system DNS back from outside the daemon (ExecStopPost, by hand). */
#include "config.h"

#include <glib/gi18n.h>

#include "ddr-admin-restore.h"
#include "ddr-steer.h"

int
ddr_admin_restore_dns (const char *root, const char *state_dir)
{
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GString) report = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *default_state = NULL;
  gboolean ok;

  if (!root)
    root = "";
  if (*root && !g_file_test (root, G_FILE_TEST_IS_DIR))
    {
      g_printerr (_("threatstop-ddr-admin: invalid --root=%s: expected an existing directory\n"),
                  root);
      return 2;
    }
  if (!state_dir)
    state_dir = default_state = g_strconcat (root, DDR_STATEDIR, NULL);

  /* Without a system bus only resolv.conf can have been steered; go on without it. */
  bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (!bus)
    {
      g_debug ("no system bus: %s", error->message);
      g_clear_error (&error);
    }
  ok = ddr_steer_restore_all (bus, root, state_dir, report, &error);
  g_print ("%s", report->str);
  if (!ok)
    {
      g_printerr (_("threatstop-ddr-admin: could not undo all DNS steering: %s\n"),
                  error->message);
      return 1;
    }
  if (report->len == 0)
    g_print (_("Nothing to restore: threatstop-ddrd has left no DNS steering behind.\n"));
  return 0;
}
