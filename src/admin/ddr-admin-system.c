/* systemctl for install/uninstall; never run under --root (DESIGN.md, Test seams). */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ddr-admin-system.h"

static gboolean
run (const char *verb, const char *unit, char **err_out, GError **error)
{
  const char *argv[] = { "systemctl", verb, unit, NULL };
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH
                     | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, err_out, &status, error))
    return FALSE;
  return g_spawn_check_wait_status (status, error);
}

gboolean
ddr_admin_systemctl (const char *root, const char *verb, const char *unit, GError **error)
{
  g_autofree char *err = NULL;
  g_autoptr(GError) local_error = NULL;

  if (root)
    return TRUE;
  if (run (verb, unit, &err, &local_error))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("systemctl %s %s failed: %s"), verb,
               unit ? unit : "", err && *g_strstrip (err) ? err : local_error->message);
  return FALSE;
}

gboolean
ddr_admin_unit_is (const char *root, const char *what, const char *unit)
{
  g_autofree char *err = NULL;

  return !root && run (what, unit, &err, NULL);
}

char *
ddr_admin_journal_last (const char *unit, const char *ident, gint64 since_us)
{
  g_autofree char *since = g_strdup_printf ("@%" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT,
                                            since_us / G_USEC_PER_SEC, since_us % G_USEC_PER_SEC);
  const char *argv[] = { "journalctl", "--no-pager", "--quiet", "--output=cat", "--lines=1",
                         "--unit", unit, "--identifier", ident, "--since", since, NULL };

  /* journald may write a line that just arrived a moment later: a few short tries */
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *out = NULL;
      int status = 0;

      if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH
                         | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status, NULL))
        return NULL;
      if (g_spawn_check_wait_status (status, NULL) && out && *g_strstrip (out))
        return g_steal_pointer (&out);
      g_usleep (G_USEC_PER_SEC / 10);
    }
  return NULL;
}
