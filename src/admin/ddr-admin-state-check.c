/* install.state entries checked before uninstall trusts them: a tampered or corrupt
 * file must not make root remove, overwrite or restart anything install did not own. */
#include "config.h"

#include <string.h>

#include "ddr-admin-dnsdist.h"
#include "ddr-admin-files.h"
#include "ddr-admin-llmnr.h"
#include "ddr-admin-resolved.h"
#include "ddr-admin-state-check.h"

/* The files install writes, besides the ones directly in the sysconfdir. */
static const char *const owned_files[] = {
  DDR_UNIT_ETC, DDR_DISPATCHER_ETC, DDR_RESOLVED_DROPIN, DDR_RESOLVED_LLMNR_DROPIN,
  DDR_DNSDIST_CONF, NULL
};
/* The deepest directories install may create (their parents too). */
static const char *const owned_dirs[] = {
  DDR_SYSCONFDIR "/backup", "/etc/systemd/system", "/etc/NetworkManager/dispatcher.d",
  "/etc/systemd/resolved.conf.d", "/etc/dnsdist", NULL
};
static const char *const owned_units[] = {
  "threatstop-ddr.service", "dnsdist.service", "systemd-resolved.service", NULL
};

/* Absolute, and no "", "." or ".." component: what it says is where it points. */
static gboolean
is_canonical (const char *path)
{
  g_auto(GStrv) parts = NULL;

  if (path[0] != '/' || path[1] == '\0')
    return FALSE;
  parts = g_strsplit (path + 1, "/", -1);
  for (guint i = 0; parts[i]; i++)
    if (!parts[i][0] || g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
      return FALSE;
  return TRUE;
}

static gboolean
is_owned_file (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  /* ddr.conf, install's copy of --ca-file and the like: directly in the sysconfdir. */
  return g_str_equal (dir, DDR_SYSCONFDIR) ||
         g_strv_contains (owned_files, path);
}

/* dir is one of owned_dirs or a parent of one (install makes parents as needed). */
static gboolean
is_owned_dir (const char *dir)
{
  gsize len = strlen (dir);

  for (guint i = 0; owned_dirs[i]; i++)
    if (strncmp (owned_dirs[i], dir, len) == 0 &&
        (owned_dirs[i][len] == '\0' || owned_dirs[i][len] == '/'))
      return TRUE;
  return FALSE;
}

gboolean
ddr_admin_state_entry_ok (const char *list, const char *value)
{
  if (g_str_equal (list, "created") || g_str_equal (list, "replaced"))
    return is_canonical (value) && is_owned_file (value);
  if (g_str_equal (list, "dirs"))
    return is_canonical (value) && is_owned_dir (value);
  if (g_str_equal (list, "enabled") || g_str_equal (list, "disabled") ||
      g_str_equal (list, "restart"))
    return g_strv_contains (owned_units, value);
  return TRUE;
}
