/* systemd-resolved's stub listener (127.0.0.53:53) vs. a relay on port 53 of every address. */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ddr-admin-install.h"
#include "ddr-admin-resolved.h"
#include "ddr-admin-system.h"

/* Later files win; drop-ins are read in file name order, as resolved does. */
static void
read_stub_setting (const char *file, gboolean *on)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autofree char *value = NULL;

  if (!g_key_file_load_from_file (kf, file, G_KEY_FILE_NONE, NULL))
    return;
  value = g_key_file_get_string (kf, "Resolve", "DNSStubListener", NULL);
  if (!value)
    return;
  g_strstrip (value);
  *on = !(g_ascii_strcasecmp (value, "no") == 0 || g_ascii_strcasecmp (value, "false") == 0
          || g_ascii_strcasecmp (value, "off") == 0 || g_str_equal (value, "0"));
}

static gint
by_basename (gconstpointer a, gconstpointer b)
{
  g_autofree char *x = g_path_get_basename (*(const char *const *) a);
  g_autofree char *y = g_path_get_basename (*(const char *const *) b);

  return strcmp (x, y);
}

gboolean
ddr_admin_resolved_stub_active (const char *root)
{
  static const char *const dropin_dirs[] = {
    "/usr/lib/systemd/resolved.conf.d", "/run/systemd/resolved.conf.d",
    "/etc/systemd/resolved.conf.d", NULL
  };
  g_autofree char *stub = ddr_admin_path (root, "/run/systemd/resolve/stub-resolv.conf");
  g_autofree char *main_conf = ddr_admin_path (root, "/etc/systemd/resolved.conf");
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  gboolean on = TRUE;

  /* resolved writes stub-resolv.conf into /run when it runs. */
  if (!g_file_test (stub, G_FILE_TEST_EXISTS))
    return FALSE;
  read_stub_setting (main_conf, &on);
  for (guint i = 0; dropin_dirs[i]; i++)
    {
      g_autofree char *dir = ddr_admin_path (root, dropin_dirs[i]);
      g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
      const char *name;

      while (d && (name = g_dir_read_name (d)))
        if (g_str_has_suffix (name, ".conf"))
          g_ptr_array_add (files, g_build_filename (dir, name, NULL));
    }
  g_ptr_array_sort (files, by_basename);
  for (guint i = 0; i < files->len; i++)
    read_stub_setting (files->pdata[i], &on);
  return on;
}

static int
stub_off (const char *root, gboolean yes, DdrInstallState *run, DdrInstallState *known)
{
  static const char dropin[] =
    "# Written by threatstop-ddr-admin --action=install: threatstop-ddr listens on port 53\n"
    "# of every address, which includes resolved's stub 127.0.0.53, so the stub is off.\n"
    "# --action=uninstall removes this file.\n"
    "[Resolve]\n"
    "DNSStubListener=no\n";
  g_autoptr(GError) error = NULL;
  g_autofree char *path = ddr_admin_path (root, DDR_RESOLVED_DROPIN);

  if (!ddr_admin_ask (yes, _("Turn off systemd-resolved's stub listener (a drop-in with "
                             "DNSStubListener=no)?")))
    {
      g_printerr (_("Nothing was changed. Add --yes to turn the stub listener off, "
                    "--resolved=disable to disable systemd-resolved instead, or listen on "
                    "a specific address instead of 0.0.0.0.\n"));
      return 1;
    }
  if (!ddr_install_state_write (run, known, DDR_RESOLVED_DROPIN, dropin, -1, 0644, &error))
    {
      g_printerr ("threatstop-ddr-admin: %s\n", error->message);
      return 1;
    }
  g_print (_("Wrote %s\n"), path);
  return ddr_admin_resolved_restart (root, "restart", run);
}

int
ddr_admin_resolved_restart (const char *root, const char *verb, DdrInstallState *run)
{
  g_autoptr(GError) error = NULL;

  ddr_install_state_add (run, "restart", DDR_RESOLVED_UNIT);
  if (root)
    g_print (_("Not restarting systemd-resolved (--root).\n"));
  else if (!ddr_admin_systemctl (root, verb, DDR_RESOLVED_UNIT, &error))
    {
      g_printerr ("threatstop-ddr-admin: %s\n", error->message);
      return 1;
    }
  return 0;
}

static int
disable (const char *root, gboolean yes, DdrInstallState *run)
{
  g_autoptr(GError) error = NULL;

  if (!ddr_admin_ask (yes, _("Disable systemd-resolved (the vendor's way)?")))
    {
      g_printerr (_("Nothing was changed. Add --yes to disable systemd-resolved, or listen "
                    "on a specific address instead of 0.0.0.0.\n"));
      return 1;
    }
  if (!ddr_admin_systemctl (root, "disable", DDR_RESOLVED_UNIT, &error)
      || !ddr_admin_systemctl (root, "stop", DDR_RESOLVED_UNIT, &error))
    {
      g_printerr ("threatstop-ddr-admin: %s\n", error->message);
      return 1;
    }
  ddr_install_state_add (run, "disabled", DDR_RESOLVED_UNIT);
  g_print (root ? _("systemd-resolved is recorded as disabled (--root: systemctl not run).\n")
                : _("Disabled systemd-resolved.\n"));
  return 0;
}

int
ddr_admin_resolved_fix (const char *root, const char *mode, gboolean yes,
                        DdrInstallState *run, DdrInstallState *known)
{
  g_print (_("systemd-resolved is running with its stub listener on 127.0.0.53:53; a relay "
             "on port 53 of every address (0.0.0.0:53) cannot start beside it.\n"));
  if (g_strcmp0 (mode, "disable") == 0)
    return disable (root, yes, run);
  return stub_off (root, yes, run, known);
}

void
ddr_admin_resolved_undo (const char *root, DdrInstallState *state)
{
  g_autoptr(GError) error = NULL;

  if (!ddr_install_state_has (state, "restart", DDR_RESOLVED_UNIT))
    return;
  if (root)
    g_print (_("Not restarting systemd-resolved (--root).\n"));
  else if (!ddr_admin_systemctl (root, "try-restart", DDR_RESOLVED_UNIT, &error))
    g_printerr ("threatstop-ddr-admin: %s\n", error->message);
}
