/* polkit CheckAuthorization over GDBus, asynchronous: the main loop never waits for it. */
#define G_LOG_DOMAIN "ddr-polkit"

#include "ddr-polkit.h"
#include "ddr-error.h"

#define POLKIT_NAME  "org.freedesktop.PolicyKit1"
#define POLKIT_PATH  "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_IFACE "org.freedesktop.PolicyKit1.Authority"

/* CheckAuthorization flags (polkit's PolkitCheckAuthorizationFlags). */
#define POLKIT_ALLOW_USER_INTERACTION 0x1

/* Without an agent polkit answers at once; with one, the user may need time to type. */
#define POLKIT_TIMEOUT_MS             (25 * 1000)
#define POLKIT_INTERACTIVE_TIMEOUT_MS (5 * 60 * 1000)

static void
on_check_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  const char *action_id = g_task_get_task_data (task);
  gboolean authorized = FALSE, challenge = FALSE;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (!reply)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      g_dbus_error_strip_remote_error (error);
      g_warning ("polkit check for %s failed: %s", action_id, error->message);
      g_task_return_new_error (task, DDR_ERROR, DDR_ERROR_NOT_AUTHORIZED,
                               "Cannot check authorization with polkit: %s", error->message);
      return;
    }

  g_variant_get (reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
  if (authorized)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_task_return_new_error (task, DDR_ERROR, DDR_ERROR_NOT_AUTHORIZED,
                           challenge ? "Authentication is required for %s"
                                     : "Not authorized for %s", action_id);
}

void
ddr_polkit_check_async (GDBusConnection     *connection,
                        const char          *sender,
                        const char          *action_id,
                        gboolean             interactive,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GVariantBuilder subject_details;
  GVariant *params;

  g_return_if_fail (G_IS_DBUS_CONNECTION (connection));
  g_return_if_fail (sender != NULL && action_id != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ddr_polkit_check_async);
  g_task_set_task_data (task, g_strdup (action_id), g_free);

  /* The subject is the caller's unique bus name: polkit resolves it to a process and
   * user itself, so nothing the caller claims is trusted. */
  g_variant_builder_init (&subject_details, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&subject_details, "{sv}", "name", g_variant_new_string (sender));
  params = g_variant_new ("((sa{sv})s@a{ss}us)",
                          "system-bus-name", &subject_details,
                          action_id,
                          g_variant_new_array (G_VARIANT_TYPE ("{ss}"), NULL, 0),
                          (guint32) (interactive ? POLKIT_ALLOW_USER_INTERACTION : 0),
                          "");

  g_dbus_connection_call (connection, POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE,
                          "CheckAuthorization", params, G_VARIANT_TYPE ("((bba{ss}))"),
                          G_DBUS_CALL_FLAGS_NONE,
                          interactive ? POLKIT_INTERACTIVE_TIMEOUT_MS : POLKIT_TIMEOUT_MS,
                          cancellable, on_check_done, g_steal_pointer (&task));
}

gboolean
ddr_polkit_check_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
