/* DNS steering: picks a backend, runs set calls one at a time, undoes every backend's traces. */
#define G_LOG_DOMAIN "ddr-steer"

#include <glib/gi18n-lib.h>

#include "ddr-steer-private.h"

struct _DdrSteer {
  GObject parent;
  DdrSteerBackend *backend;
  GQueue pending;     /* GTask: set calls waiting for the one running */
  gboolean running;
  gboolean on;
};

G_DEFINE_FINAL_TYPE (DdrSteer, ddr_steer, G_TYPE_OBJECT)

enum {
  SIGNAL_LOST,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
backend_lost (DdrSteerBackend *backend, const char *why, gpointer user_data)
{
  DdrSteer *self = user_data;

  if (self->running || !g_queue_is_empty (&self->pending) || !self->on)
    {
      g_debug ("steering change seen while a set call is due: %s", why);
      return;
    }
  self->on = FALSE;
  g_signal_emit (self, signals[SIGNAL_LOST], 0, why);
}

gboolean
ddr_steer_link_type_from_env (DdrSteerLinkType *type, GError **error)
{
  const char *v = g_getenv ("THREATSTOP_DDR_STEER_LINK");

  if (!v || !*v || g_str_equal (v, "dummy"))
    *type = DDR_STEER_LINK_DUMMY;
  else if (g_str_equal (v, "veth"))
    *type = DDR_STEER_LINK_VETH;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Invalid THREATSTOP_DDR_STEER_LINK=%s: expected dummy or veth"), v);
      return FALSE;
    }
  return TRUE;
}

gboolean
ddr_steer_bus_has_owner (GDBusConnection *bus, const char *name)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  gboolean has = FALSE;

  if (!bus)
    return FALSE;
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", name), G_VARIANT_TYPE ("(b)"),
                                       G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
  if (!reply)
    {
      g_debug ("NameHasOwner(%s): %s", name, error->message);
      return FALSE;
    }
  g_variant_get (reply, "(b)", &has);
  return has;
}

DdrSteer *
ddr_steer_new (const char       *backend,
               GDBusConnection  *bus,
               const char       *root,
               const char       *state_dir,
               GError          **error)
{
  g_autoptr(DdrSteer) self = NULL;
  DdrSteerLinkType link;

  g_return_val_if_fail (backend != NULL, NULL);
  g_return_val_if_fail (state_dir != NULL, NULL);
  if (!ddr_steer_link_type_from_env (&link, error))
    return NULL;
  if (g_str_equal (backend, "auto"))
    {
      if (ddr_steer_bus_has_owner (bus, DDR_NM_BUS_NAME))
        backend = "networkmanager";
      else if (ddr_steer_bus_has_owner (bus, DDR_RESOLVED_BUS_NAME))
        backend = "resolved";
      else
        backend = "resolv.conf";
    }
  if ((g_str_equal (backend, "networkmanager") || g_str_equal (backend, "resolved")) && !bus)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                   _("The DNS backend %s needs the system bus, which is not available"),
                   backend);
      return NULL;
    }

  self = g_object_new (DDR_TYPE_STEER, NULL);
  if (g_str_equal (backend, "networkmanager"))
    self->backend = ddr_steer_nm_new (bus, link);
  else if (g_str_equal (backend, "resolved"))
    self->backend = ddr_steer_resolved_new (bus, state_dir, link);
  else if (g_str_equal (backend, "resolv.conf"))
    self->backend = ddr_steer_resolvconf_new (root ? root : "", state_dir);
  else if (g_str_equal (backend, "none"))
    self->backend = ddr_steer_backend_new_none ();
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Invalid DNS backend \"%s\": expected auto, networkmanager, resolved, "
                     "resolv.conf or none"), backend);
      return NULL;
    }
  g_signal_connect (self->backend, "lost", G_CALLBACK (backend_lost), self);
  g_info ("DNS steering backend: %s", ddr_steer_backend_get_name (self->backend));
  return g_steal_pointer (&self);
}
gboolean
ddr_steer_report_lost (DdrSteer *self, const char *why)
{
  DdrSteerBackendClass *klass;

  g_return_val_if_fail (DDR_IS_STEER (self), FALSE);
  if (self->running || !g_queue_is_empty (&self->pending) || !self->on)
    return FALSE;
  klass = DDR_STEER_BACKEND_GET_CLASS (self->backend);
  if (klass->mark_undone)
    klass->mark_undone (self->backend);
  ddr_steer_backend_report_lost (self->backend, why);
  return TRUE;
}

const char *
ddr_steer_get_backend (DdrSteer *self)
{
  g_return_val_if_fail (DDR_IS_STEER (self), NULL);
  return ddr_steer_backend_get_name (self->backend);
}

gboolean
ddr_steer_is_on (DdrSteer *self)
{
  g_return_val_if_fail (DDR_IS_STEER (self), FALSE);
  return self->on;
}

static void run_next (DdrSteer *self);

static void
backend_set_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  DdrSteer *self = g_task_get_source_object (task);
  gboolean on = GPOINTER_TO_INT (g_task_get_task_data (task));
  GError *error = NULL;

  self->running = FALSE;
  if (ddr_steer_backend_set_finish (DDR_STEER_BACKEND (source), result, &error))
    {
      self->on = on;
      g_task_return_boolean (task, TRUE);
    }
  else
    g_task_return_error (task, error);
  run_next (self);
}

/* One backend call at a time, in the order asked: "on, off" must end off. */
static void
run_next (DdrSteer *self)
{
  GTask *task;

  if (self->running || !(task = g_queue_pop_head (&self->pending)))
    return;
  self->running = TRUE;
  ddr_steer_backend_set_async (self->backend, GPOINTER_TO_INT (g_task_get_task_data (task)),
                               g_task_get_cancellable (task), backend_set_cb, task);
}

void
ddr_steer_set_async (DdrSteer            *self,
                     gboolean             on,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (DDR_IS_STEER (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ddr_steer_set_async);
  g_task_set_task_data (task, GINT_TO_POINTER (!!on), NULL);
  g_queue_push_tail (&self->pending, task);
  run_next (self);
}

gboolean
ddr_steer_set_finish (DdrSteer *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Every backend is asked, even after one fails: undo as much as possible. */
gboolean
ddr_steer_restore_all (GDBusConnection  *bus,
                       const char       *root,
                       const char       *state_dir,
                       GString          *report,
                       GError          **error)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  g_autoptr(GError) nm_error = NULL;
  g_autoptr(GError) resolved_error = NULL;
  g_autoptr(GError) file_error = NULL;

  g_return_val_if_fail (state_dir != NULL, FALSE);
  if (!ddr_steer_nm_restore (bus, report, &nm_error))
    g_string_append_printf (failures, "%s\n", nm_error->message);
  if (!ddr_steer_resolved_restore (bus, state_dir, report, &resolved_error))
    g_string_append_printf (failures, "%s\n", resolved_error->message);
  if (!ddr_steer_resolvconf_restore (root ? root : "", state_dir, report, &file_error))
    g_string_append_printf (failures, "%s\n", file_error->message);
  if (failures->len)
    {
      g_string_truncate (failures, failures->len - 1);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, failures->str);
      return FALSE;
    }
  return TRUE;
}

static void
ddr_steer_dispose (GObject *object)
{
  DdrSteer *self = DDR_STEER (object);

  if (self->backend)
    g_signal_handlers_disconnect_by_data (self->backend, self);
  g_clear_object (&self->backend);
  G_OBJECT_CLASS (ddr_steer_parent_class)->dispose (object);
}

static void
ddr_steer_class_init (DdrSteerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = ddr_steer_dispose;
  signals[SIGNAL_LOST] = g_signal_new ("lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
ddr_steer_init (DdrSteer *self)
{
  g_queue_init (&self->pending);
}
