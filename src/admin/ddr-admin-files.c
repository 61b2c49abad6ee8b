/* The unit and dispatcher script install puts in place (and from where); config temp files. */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <unistd.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ddr-admin-files.h"
#include "ddr-admin-install.h"

/* Where a package (or meson install) puts them; these are enabled, never copied. */
static const char *const unit_dirs[] = {
  DDR_UNITDIR, "/usr/lib/systemd/system", "/lib/systemd/system", NULL
};
/* NetworkManager reads only these two; /etc is where install copies to. */
static const char *const dispatcher_dirs[] = {
  "/usr/lib/NetworkManager/dispatcher.d", NULL
};
/* Where this build's meson install put it (/usr/local/lib/... is not read by NM). */
static const char *const dispatcher_sources[] = {
  DDR_DISPATCHERDIR, "/usr/lib/NetworkManager/dispatcher.d", NULL
};

static gboolean
installed_under (const char *root, const char *const *dirs, const char *name)
{
  for (guint i = 0; dirs[i]; i++)
    {
      g_autofree char *sys = g_build_filename (dirs[i], name, NULL);
      g_autofree char *full = ddr_admin_path (root, sys);

      if (g_file_test (full, G_FILE_TEST_IS_REGULAR))
        return TRUE;
    }
  return FALSE;
}

/* A copy source: THREATSTOP_DDR_DATA_DIR (a build tree, for tests and image builds),
 * then this machine's installed copy (always=FALSE: only when installing into
 * another root, since on this machine it is in place already). */
static char *
source_for (const char *root, const char *const *dirs, const char *name, gboolean always)
{
  const char *data_dir = g_getenv ("THREATSTOP_DDR_DATA_DIR");

  if (data_dir && *data_dir)
    {
      g_autofree char *path = g_build_filename (data_dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  for (guint i = 0; (root || always) && dirs[i]; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  return NULL;
}

gboolean
ddr_admin_files_find (const char *root, DdrInstallFiles *files, GError **error)
{
  g_autofree char *nm_dir = ddr_admin_path (root, "/etc/NetworkManager");
  g_autofree char *unit_etc = ddr_admin_path (root, DDR_UNIT_ETC);
  g_autofree char *disp_etc = ddr_admin_path (root, DDR_DISPATCHER_ETC);

  if (!installed_under (root, unit_dirs, DDR_UNIT_NAME))
    {
      files->unit_source = source_for (root, unit_dirs, DDR_UNIT_NAME, FALSE);
      if (!files->unit_source && !g_file_test (unit_etc, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       _("the systemd unit %s is not installed (in %s); install the "
                         "threatstop-ddr package or run meson install first"),
                       DDR_UNIT_NAME, DDR_UNITDIR);
          return FALSE;
        }
    }
  files->need_dispatcher = g_file_test (nm_dir, G_FILE_TEST_IS_DIR);
  if (files->need_dispatcher && !installed_under (root, dispatcher_dirs, DDR_DISPATCHER_NAME))
    files->dispatcher_source = source_for (root, dispatcher_sources, DDR_DISPATCHER_NAME, TRUE);
  return TRUE;
}

static gboolean
copy_one (const char *root, const char *from, const char *to, int mode, DdrInstallState *run,
          DdrInstallState *known, GError **error)
{
  g_autofree char *data = NULL;
  g_autofree char *full = ddr_admin_path (root, to);
  gsize len;

  if (!g_file_get_contents (from, &data, &len, error)
      || !ddr_install_state_write (run, known, to, data, len, mode, error))
    return FALSE;
  g_print (_("Installed %s\n"), full);
  return TRUE;
}

gboolean
ddr_admin_files_copy (const char *root, DdrInstallFiles *files, DdrInstallState *run,
                      DdrInstallState *known, GError **error)
{
  if (files->unit_source)
    {
      if (!copy_one (root, files->unit_source, DDR_UNIT_ETC, 0644, run, known, error))
        return FALSE;
      files->unit_copied = TRUE;
    }
  /* nm-dispatcher runs only root-owned scripts that no one else may write. */
  if (files->dispatcher_source
      && !copy_one (root, files->dispatcher_source, DDR_DISPATCHER_ETC, 0755, run, known, error))
    return FALSE;
  if (files->need_dispatcher && !files->dispatcher_source
      && !installed_under (root, dispatcher_dirs, DDR_DISPATCHER_NAME))
    g_print (_("Note: the NetworkManager dispatcher script %s was not found in %s (install "
               "the package or run meson install); the daemon still follows NetworkManager "
               "by itself.\n"), DDR_DISPATCHER_NAME, DDR_DISPATCHERDIR);
  return TRUE;
}

void
ddr_admin_files_clear (DdrInstallFiles *files)
{
  g_clear_pointer (&files->unit_source, g_free);
  g_clear_pointer (&files->dispatcher_source, g_free);
}

char *
ddr_admin_files_write_tmp (const char *tmpl, const char *text, GError **error)
{
  g_autofree char *tmp = NULL;
  int fd = g_file_open_tmp (tmpl, &tmp, error);

  if (fd < 0)
    return NULL;
  close (fd);
  if (!g_file_set_contents (tmp, text, -1, error))
    {
      g_unlink (tmp);
      return NULL;
    }
  return g_steal_pointer (&tmp);
}
