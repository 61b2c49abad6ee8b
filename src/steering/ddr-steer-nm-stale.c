/* First use of the NM backend: delete every owned profile a crash or an older run left. */
#define G_LOG_DOMAIN "ddr-steer"

#include "ddr-steer-private.h"

typedef struct {
  GDBusConnection *bus;
  char **paths;
  guint i;
  GPtrArray *doomed;
} Stale;

static void
stale_free (Stale *st)
{
  g_clear_object (&st->bus);
  g_strfreev (st->paths);
  g_ptr_array_unref (st->doomed);
  g_free (st);
}

gboolean
ddr_steer_nm_settings_are_ours (GVariant *settings)
{
  g_autoptr(GVariant) conn = g_variant_lookup_value (settings, "connection",
                                                    G_VARIANT_TYPE_VARDICT);
  const char *uuid = NULL, *id = NULL;

  if (!conn)
    return FALSE;
  g_variant_lookup (conn, "uuid", "&s", &uuid);
  g_variant_lookup (conn, "id", "&s", &id);
  return g_strcmp0 (uuid, DDR_STEER_NM_UUID) == 0
         || g_strcmp0 (uuid, DDR_STEER_NM_BOUND_UUID) == 0
         || g_strcmp0 (id, DDR_STEER_NM_ID) == 0;
}

gboolean
ddr_steer_nm_error_vanished (const GError *error)
{
  return g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD)
         || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT);
}

/* One asynchronous NM call for a task: its cancellable, NM's timeout. Shared by the
 * NM steering files (set, bind, stale clean-up). */
void
ddr_steer_nm_call (GDBusConnection *bus, GTask *task, const char *path, const char *iface,
                   const char *method, GVariant *params, const char *reply_type,
                   GAsyncReadyCallback cb)
{
  g_dbus_connection_call (bus, DDR_NM_BUS_NAME, path, iface, method, params,
                          G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                          g_task_get_cancellable (task), cb, task);
}

static void
call (GTask *task, const char *path, const char *method, const char *reply_type,
      GAsyncReadyCallback cb)
{
  Stale *st = g_task_get_task_data (task);

  ddr_steer_nm_call (st->bus, task, path,
                     g_str_equal (path, SETTINGS_PATH) ? SETTINGS_IFACE : CONNECTION_IFACE,
                     method, NULL, reply_type, cb);
}

static void
fail (GTask *task, GError *error, const char *what)
{
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_dbus_error_strip_remote_error (error);
      g_prefix_error (&error, "NetworkManager %s: ", what);
    }
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void delete_next (GTask *task);

static void
deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  /* A volatile bound profile may be deleted by NM itself meanwhile: that is fine. */
  if (!reply && !ddr_steer_nm_error_vanished (error))
    {
      fail (task, error, "Delete");
      return;
    }
  g_clear_error (&error);
  delete_next (task);
}

static void
delete_next (GTask *task)
{
  Stale *st = g_task_get_task_data (task);
  g_autofree char *path = NULL;

  if (!st->doomed->len)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  path = g_ptr_array_steal_index (st->doomed, st->doomed->len - 1);
  g_info ("removing a stale NetworkManager profile %s", path);
  call (task, path, "Delete", "()", deleted_cb);
}

static void get_next_settings (GTask *task);

static void
settings_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Stale *st = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  g_autoptr(GVariant) settings = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      fail (task, error, "GetSettings");
      return;
    }
  g_clear_error (&error);   /* a profile that vanished meanwhile is not ours to delete */
  if (reply)
    {
      g_variant_get (reply, "(@a{sa{sv}})", &settings);
      if (ddr_steer_nm_settings_are_ours (settings))
        g_ptr_array_add (st->doomed, g_strdup (st->paths[st->i]));
    }
  st->i++;
  get_next_settings (task);
}

static void
get_next_settings (GTask *task)
{
  Stale *st = g_task_get_task_data (task);

  if (!st->paths[st->i])
    delete_next (task);
  else
    call (task, st->paths[st->i], "GetSettings", "(a{sa{sv}})", settings_cb);
}

static void
list_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Stale *st = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (!reply)
    {
      fail (task, error, "ListConnections");
      return;
    }
  g_variant_get (reply, "(^ao)", &st->paths);
  get_next_settings (task);
}

void
ddr_steer_nm_remove_stale_async (GDBusConnection     *bus,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Stale *st = g_new0 (Stale, 1);

  g_task_set_source_tag (task, ddr_steer_nm_remove_stale_async);
  st->bus = g_object_ref (bus);
  st->doomed = g_ptr_array_new_with_free_func (g_free);
  g_task_set_task_data (task, st, (GDestroyNotify) stale_free);
  call (task, SETTINGS_PATH, "ListConnections", "(ao)", list_cb);
}

gboolean
ddr_steer_nm_remove_stale_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
