/* install.state: what --action=install created or changed, so uninstall undoes exactly that. */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ddr-admin-install.h"
#include "ddr-admin-state.h"
#include "ddr-admin-state-check.h"

#define GROUP "install"

struct _DdrInstallState {
  char       *root;
  GKeyFile   *kf;
  /* In a run: the files of an earlier install as they were before this run rewrote
   * them (path -> Previous), so a failed re-install can put them back. */
  GHashTable *previous;
};

typedef struct {
  GBytes *data;
  GStatBuf st;     /* mode, owner and group to put back */
} Previous;

static void
previous_free (Previous *p)
{
  g_bytes_unref (p->data);
  g_free (p);
}

static char *
state_path (const char *root)
{
  return ddr_admin_path (root, DDR_SYSCONFDIR "/install.state");
}

/* Where the previous content of a replaced file is kept (outside the directory it
 * came from: a copy in dispatcher.d would run, one in resolved.conf.d would apply). */
static char *
backup_path (const char *root, const char *path)
{
  g_autofree char *name = g_uri_escape_string (path, NULL, FALSE);
  g_autofree char *dir = ddr_admin_path (root, DDR_SYSCONFDIR "/backup");

  return g_build_filename (dir, name, NULL);
}

DdrInstallState *
ddr_install_state_new (const char *root)
{
  DdrInstallState *state = g_new0 (DdrInstallState, 1);

  state->root = g_strdup (root);
  state->kf = g_key_file_new ();
  state->previous = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) previous_free);
  return state;
}

void
ddr_install_state_free (DdrInstallState *state)
{
  if (!state)
    return;
  g_key_file_unref (state->kf);
  g_hash_table_unref (state->previous);
  g_free (state->root);
  g_free (state);
}

static const char *const lists[] = { "created", "replaced", "dirs", "enabled", "disabled",
                                     "restart", NULL };

/* Uninstall acts on these entries as root: a file that names anything install does
 * not write is refused whole, before anything is touched. */
static gboolean
check_entries (DdrInstallState *state, const char *path, GError **error)
{
  for (guint i = 0; lists[i]; i++)
    {
      g_auto(GStrv) values = ddr_install_state_list (state, lists[i]);

      for (guint j = 0; values[j]; j++)
        if (!ddr_admin_state_entry_ok (lists[i], values[j]))
          {
            g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                         _("%s: refusing %s=%s: not something install writes (the file "
                           "was changed by hand or is damaged; remove the entry, or the "
                           "file, and undo by hand)"), path, lists[i], values[j]);
            return FALSE;
          }
    }
  return TRUE;
}

DdrInstallState *
ddr_install_state_load (const char *root, gboolean *existed, GError **error)
{
  g_autoptr(DdrInstallState) state = ddr_install_state_new (root);
  g_autofree char *path = state_path (root);
  g_autoptr(GError) local_error = NULL;

  *existed = FALSE;
  if (!g_key_file_load_from_file (state->kf, path, G_KEY_FILE_NONE, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&state);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s", path,
                   local_error->message);
      return NULL;
    }
  if (!check_entries (state, path, error))
    return NULL;
  *existed = TRUE;
  return g_steal_pointer (&state);
}

char **
ddr_install_state_list (DdrInstallState *state, const char *list)
{
  char **values = g_key_file_get_string_list (state->kf, GROUP, list, NULL, NULL);

  return values ? values : g_new0 (char *, 1);
}

gboolean
ddr_install_state_has (DdrInstallState *state, const char *list, const char *value)
{
  g_auto(GStrv) values = ddr_install_state_list (state, list);

  return g_strv_contains ((const char *const *) values, value);
}

void
ddr_install_state_add (DdrInstallState *state, const char *list, const char *value)
{
  g_auto(GStrv) values = ddr_install_state_list (state, list);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) out = NULL;

  if (g_strv_contains ((const char *const *) values, value))
    return;
  g_strv_builder_addv (b, (const char **) values);
  g_strv_builder_add (b, value);
  out = g_strv_builder_end (b);
  g_key_file_set_string_list (state->kf, GROUP, list, (const char *const *) out,
                              g_strv_length (out));
}

void
ddr_install_state_set (DdrInstallState *state, const char *key, const char *value)
{
  g_key_file_set_string (state->kf, GROUP, key, value);
}

const char *
ddr_install_state_get (DdrInstallState *state, const char *key)
{
  g_autofree char *value = g_key_file_get_string (state->kf, GROUP, key, NULL);

  /* Interned: the keys are few and the CLI is short-lived. */
  return value ? g_intern_string (value) : NULL;
}

void
ddr_install_state_merge (DdrInstallState *state, DdrInstallState *other)
{
  g_auto(GStrv) keys = g_key_file_get_keys (other->kf, GROUP, NULL, NULL);

  for (guint i = 0; keys && keys[i]; i++)
    {
      g_auto(GStrv) values = NULL;
      g_autofree char *value = NULL;

      if (!g_strv_contains (lists, keys[i]))
        {
          value = g_key_file_get_string (other->kf, GROUP, keys[i], NULL);
          g_key_file_set_string (state->kf, GROUP, keys[i], value);
          continue;
        }
      values = ddr_install_state_list (other, keys[i]);
      for (guint j = 0; values[j]; j++)
        ddr_install_state_add (state, keys[i], values[j]);
    }
}

/* mkdir -p under root, recording each directory made in run. */
static gboolean
ensure_dir (DdrInstallState *run, const char *dir, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (dir, "/", -1);
  g_autoptr(GString) sys = g_string_new ("");

  for (guint i = 0; parts[i]; i++)
    {
      g_autofree char *full = NULL;

      if (!parts[i][0])
        continue;
      g_string_append_printf (sys, "/%s", parts[i]);
      full = ddr_admin_path (run->root, sys->str);
      if (g_file_test (full, G_FILE_TEST_IS_DIR))
        continue;
      if (g_mkdir (full, 0755) != 0)
        {
          int saved = errno;
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                       _("cannot create the directory %s: %s"), full, g_strerror (saved));
          return FALSE;
        }
      ddr_install_state_add (run, "dirs", sys->str);
    }
  return TRUE;
}

gboolean
ddr_install_state_save (DdrInstallState *state, GError **error)
{
  g_autofree char *path = state_path (state->root);
  g_autofree char *data = NULL;
  gsize len;

  if (!ensure_dir (state, DDR_SYSCONFDIR, error))
    return FALSE;
  g_key_file_set_comment (state->kf, NULL, NULL,
                          " Written by threatstop-ddr-admin --action=install: what it created or\n"
                          " changed. --action=uninstall undoes exactly this. Do not edit.", NULL);
  data = g_key_file_to_data (state->kf, &len, NULL);
  return g_file_set_contents_full (path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

/* Writes data to path with the mode, owner and group of st (Debian's dnsdist.conf is
 * root:_dnsdist 0640, the dispatcher script 0755: what is put back must still work). */
static gboolean
write_like (const char *path, const char *data, gsize len, const GStatBuf *st, GError **error)
{
  if (!g_file_set_contents_full (path, data, len, G_FILE_SET_CONTENTS_CONSISTENT,
                                 st->st_mode & 07777, error))
    return FALSE;
  if (chown (path, st->st_uid, st->st_gid) != 0 && geteuid () == 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   _("cannot restore the owner of %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
copy_file (const char *from, const char *to, GError **error)
{
  g_autofree char *data = NULL;
  gsize len;
  GStatBuf st;

  if (g_stat (from, &st) != 0)
    return g_file_get_contents (from, &data, &len, error);
  return g_file_get_contents (from, &data, &len, error) && write_like (to, data, len, &st, error);
}

static gboolean
put_back (const char *path, const Previous *p, GError **error)
{
  gsize len;
  const char *data = g_bytes_get_data (p->data, &len);

  return write_like (path, data, len, &p->st, error);
}

gboolean
ddr_install_state_write (DdrInstallState *run, DdrInstallState *known, const char *path,
                         const char *contents, gssize len, int mode, GError **error)
{
  g_autofree char *full = ddr_admin_path (run->root, path);
  g_autofree char *dir = g_path_get_dirname (path);
  gboolean tracked = FALSE;

  for (DdrInstallState *s = run; s; s = (s == run ? known : NULL))
    tracked = tracked || ddr_install_state_has (s, "created", path)
              || ddr_install_state_has (s, "replaced", path);
  if (tracked && !g_hash_table_contains (run->previous, path))
    {
      g_autofree char *old = NULL;
      gsize old_len = 0;
      GStatBuf st;

      if (g_stat (full, &st) == 0 && g_file_get_contents (full, &old, &old_len, NULL))
        {
          Previous *p = g_new0 (Previous, 1);

          p->data = g_bytes_new_take (g_steal_pointer (&old), old_len);
          p->st = st;
          g_hash_table_insert (run->previous, g_strdup (path), p);
        }
    }
  if (!tracked && g_file_test (full, G_FILE_TEST_EXISTS))
    {
      g_autofree char *backup = backup_path (run->root, path);

      if (!ensure_dir (run, DDR_SYSCONFDIR "/backup", error) || !copy_file (full, backup, error))
        return FALSE;
      ddr_install_state_add (run, "replaced", path);
    }
  else if (!tracked)
    ddr_install_state_add (run, "created", path);
  if (!ensure_dir (run, dir, error))
    return FALSE;
  return g_file_set_contents_full (full, contents, len, G_FILE_SET_CONTENTS_CONSISTENT, mode,
                                   error);
}

static void
remove_dirs (DdrInstallState *state)
{
  g_auto(GStrv) dirs = ddr_install_state_list (state, "dirs");

  for (guint i = g_strv_length (dirs); i > 0; i--)
    {
      g_autofree char *full = ddr_admin_path (state->root, dirs[i - 1]);

      /* Only when empty: something else may have put files there since. */
      if (g_rmdir (full) == 0)
        g_print (_("Removed the directory %s\n"), full);
    }
}

gboolean
ddr_install_state_undo_files (DdrInstallState *state, GError **error)
{
  g_auto(GStrv) created = ddr_install_state_list (state, "created");
  g_auto(GStrv) replaced = ddr_install_state_list (state, "replaced");

  for (guint i = g_strv_length (created); i > 0; i--)
    {
      g_autofree char *full = ddr_admin_path (state->root, created[i - 1]);

      if (g_unlink (full) == 0)
        g_print (_("Removed %s\n"), full);
      else if (errno != ENOENT)
        {
          int saved = errno;
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                       _("cannot remove %s: %s"), full, g_strerror (saved));
          return FALSE;
        }
    }
  for (guint i = g_strv_length (replaced); i > 0; i--)
    {
      g_autofree char *full = ddr_admin_path (state->root, replaced[i - 1]);
      g_autofree char *backup = backup_path (state->root, replaced[i - 1]);

      if (!g_file_test (backup, G_FILE_TEST_EXISTS))
        continue;
      if (!copy_file (backup, full, error))
        return FALSE;
      g_unlink (backup);
      g_print (_("Restored the previous %s\n"), full);
    }
  remove_dirs (state);
  return TRUE;
}

gboolean
ddr_install_state_remove_file (DdrInstallState *state, GError **error)
{
  g_autofree char *path = state_path (state->root);

  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   _("cannot remove %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  remove_dirs (state);
  return TRUE;
}

gboolean
ddr_install_state_rollback (DdrInstallState *run, const char *known_before, GError **error)
{
  g_autofree char *path = state_path (run->root);
  GHashTableIter iter;
  gpointer key, value;

  /* install.state first: it may sit in a directory this run created. */
  if (known_before)
    {
      if (!g_file_set_contents_full (path, known_before, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                     0644, error))
        return FALSE;
    }
  else
    g_unlink (path);
  g_hash_table_iter_init (&iter, run->previous);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autofree char *full = ddr_admin_path (run->root, key);

      if (!put_back (full, value, error))
        return FALSE;
      g_print (_("Restored the previous %s\n"), full);
    }
  return ddr_install_state_undo_files (run, error);
}

char *
ddr_install_state_to_data (DdrInstallState *state)
{
  return g_key_file_to_data (state->kf, NULL, NULL);
}
