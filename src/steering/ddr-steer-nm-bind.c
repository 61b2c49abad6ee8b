/* The bound activation: AddAndActivateConnection2 with persist=volatile and
 * bind-activation=dbus-client, so NM undoes the steering when our bus connection drops. */
#define G_LOG_DOMAIN "ddr-steer"

#include "ddr-steer-private.h"

typedef struct {
  GDBusConnection *bus;
  DdrSteerLinkType link;
} Bind;

static void
bind_free (Bind *b)
{
  g_clear_object (&b->bus);
  g_free (b);
}

static void
call (GTask *task, const char *path, const char *iface, const char *method, GVariant *params,
      const char *reply_type, GAsyncReadyCallback cb)
{
  Bind *b = g_task_get_task_data (task);

  ddr_steer_nm_call (b->bus, task, path, iface, method, params, reply_type, cb);
}

static void
activated_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  char *active = NULL;

  if (!reply)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_dbus_error_strip_remote_error (error);
      g_task_return_error (task, error);
    }
  else
    {
      g_variant_get (reply, "(oo@a{sv})", NULL, &active, NULL);
      g_task_return_pointer (task, active, g_free);
    }
  g_object_unref (task);
}

/* NM deactivates and deletes the profile 7-15 ms after this bus connection drops
 * (steer.md §2.4). A veth profile names no peer: it takes over the existing pair. */
static void
add_and_activate (GTask *task)
{
  Bind *b = g_task_get_task_data (task);
  GVariantBuilder options;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "persist", g_variant_new_string ("volatile"));
  g_variant_builder_add (&options, "{sv}", "bind-activation",
                         g_variant_new_string ("dbus-client"));
  call (task, NM_PATH, NM_IFACE, "AddAndActivateConnection2",
        g_variant_new ("(@a{sa{sv}}oo@a{sv})", ddr_steer_nm_bound_settings (b->link), "/", "/",
                       g_variant_builder_end (&options)),
        "(ooa{sv})", activated_cb);
}

static void
deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  add_and_activate (task);   /* gone either way: NM deleted it itself meanwhile, or we did */
}

static void
stale_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  const char *path = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (!reply)
    {
      add_and_activate (task);
      return;
    }
  g_variant_get (reply, "(&o)", &path);
  g_info ("removing the inactive bound NetworkManager profile %s (%s)", DDR_STEER_NM_ID, path);
  call (task, path, CONNECTION_IFACE, "Delete", NULL, "()", deleted_cb);
}

/* A bound profile that is no longer active but not deleted yet (NM deletes it tens of
 * ms after the deactivation) would make the new one clash on its fixed UUID. */
void
ddr_steer_nm_bind_async (GDBusConnection     *bus,
                         DdrSteerLinkType     link,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Bind *b = g_new0 (Bind, 1);

  g_task_set_source_tag (task, ddr_steer_nm_bind_async);
  b->bus = g_object_ref (bus);
  b->link = link;
  g_task_set_task_data (task, b, (GDestroyNotify) bind_free);
  call (task, SETTINGS_PATH, SETTINGS_IFACE, "GetConnectionByUuid",
        g_variant_new ("(s)", DDR_STEER_NM_BOUND_UUID), "(o)", stale_cb);
}

char *
ddr_steer_nm_bind_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
