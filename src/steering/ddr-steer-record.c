/* The steering record in the state directory: what was changed, so it can be undone. */
#define G_LOG_DOMAIN "ddr-steer"

#include <errno.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>

#include "ddr-steer-private.h"

#define RECORD_NAME "steering.record"

GKeyFile *
ddr_steer_record_load (const char *state_dir, GError **error)
{
  g_autofree char *path = g_build_filename (state_dir, RECORD_NAME, NULL);
  g_autoptr(GKeyFile) record = g_key_file_new ();
  g_autoptr(GError) local = NULL;

  if (!g_key_file_load_from_file (record, path, G_KEY_FILE_NONE, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&record);
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  _("Cannot read the steering record %s: "), path);
      return NULL;
    }
  return g_steal_pointer (&record);
}

gboolean
ddr_steer_record_save (const char *state_dir, GKeyFile *record, GError **error)
{
  g_autofree char *path = g_build_filename (state_dir, RECORD_NAME, NULL);
  g_auto(GStrv) groups = g_key_file_get_groups (record, NULL);
  g_autofree char *data = NULL;
  gsize len = 0;

  if (!groups[0])
    {
      if (g_unlink (path) < 0 && errno != ENOENT)
        {
          int e = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                       _("Cannot remove the steering record %s: %s"), path, g_strerror (e));
          return FALSE;
        }
      return TRUE;
    }
  if (g_mkdir_with_parents (state_dir, 0755) < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                   _("Cannot create the state directory %s: %s"), state_dir, g_strerror (e));
      return FALSE;
    }
  data = g_key_file_to_data (record, &len, NULL);
  /* Consistent = temp file, fsync, rename: the record is either old or new after a crash. */
  if (!g_file_set_contents_full (path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    {
      g_prefix_error (error, _("Cannot write the steering record: "));
      return FALSE;
    }
  return TRUE;
}
