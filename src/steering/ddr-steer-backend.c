/* The steering backend base class; on its own it is the "none" backend. */
#define G_LOG_DOMAIN "ddr-steer"

#include "ddr-steer-backend.h"

G_DEFINE_TYPE (DdrSteerBackend, ddr_steer_backend, G_TYPE_OBJECT)

enum {
  SIGNAL_LOST,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
none_set_async (DdrSteerBackend     *self,
                gboolean             on,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, none_set_async);
  g_task_return_boolean (task, TRUE);
}

static void
ddr_steer_backend_class_init (DdrSteerBackendClass *klass)
{
  klass->name = "none";
  klass->set_async = none_set_async;
  signals[SIGNAL_LOST] = g_signal_new ("lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
ddr_steer_backend_init (DdrSteerBackend *self)
{
}

DdrSteerBackend *
ddr_steer_backend_new_none (void)
{
  return g_object_new (DDR_TYPE_STEER_BACKEND, NULL);
}

const char *
ddr_steer_backend_get_name (DdrSteerBackend *self)
{
  return DDR_STEER_BACKEND_GET_CLASS (self)->name;
}

void
ddr_steer_backend_set_async (DdrSteerBackend     *self,
                             gboolean             on,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  DDR_STEER_BACKEND_GET_CLASS (self)->set_async (self, on, cancellable, callback, user_data);
}

gboolean
ddr_steer_backend_set_finish (DdrSteerBackend *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
ddr_steer_backend_report_lost (DdrSteerBackend *self, const char *why)
{
  g_return_if_fail (DDR_IS_STEER_BACKEND (self));
  g_message ("DNS steering (%s) was undone: %s", ddr_steer_backend_get_name (self), why);
  g_signal_emit (self, signals[SIGNAL_LOST], 0, why);
}
