/* com.threatstop.DDR1 on the system bus: method handlers, polkit gate, name ownership. */
#define G_LOG_DOMAIN "ddr-dbus"

#include "ddr-dbus-service.h"
#include "ddr-error.h"
#include "ddr-manager.h"
#include "ddr-polkit.h"

#define ACTION_PAUSE     "com.threatstop.ddr.pause"
#define ACTION_CONFIGURE "com.threatstop.ddr.configure"

/* Longest NotifyNetworkEvent action we accept (NM's are under 20 bytes). */
#define MAX_ACTION_LEN 64

typedef void (*DdrReadyFunc) (gpointer user_data);

struct _DdrDbusService {
  DdrGenServiceSkeleton parent_instance;

  DdrManager      *manager;       /* not owned: the manager owns us */
  GCancellable    *cancellable;
  GDBusConnection *connection;
  guint            owner_id;
  gboolean         exported;
  DdrReadyFunc     ready;
  gpointer         ready_data;
};

static void ddr_dbus_service_iface_init (DdrGenServiceIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (DdrDbusService, ddr_dbus_service, DDR_GEN_TYPE_SERVICE_SKELETON,
                               G_IMPLEMENT_INTERFACE (DDR_GEN_TYPE_SERVICE,
                                                      ddr_dbus_service_iface_init))

/* ---- privileged methods: run only after polkit said yes ------------------------ */

static void
run_pause (DdrDbusService *self, GDBusMethodInvocation *invocation)
{
  g_autoptr(GError) error = NULL;
  guint32 minutes = 0;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(u)", &minutes);
  g_message ("pause (%u minutes; 0 = until resumed) requested over D-Bus by %s", minutes,
             g_dbus_method_invocation_get_sender (invocation));
  if (!ddr_manager_pause (self->manager, minutes, &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    ddr_gen_service_complete_pause (DDR_GEN_SERVICE (self), invocation);
}

static void
run_resume (DdrDbusService *self, GDBusMethodInvocation *invocation)
{
  g_autoptr(GError) error = NULL;

  g_message ("resume requested over D-Bus by %s", g_dbus_method_invocation_get_sender (invocation));
  if (!ddr_manager_resume (self->manager, &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    ddr_gen_service_complete_resume (DDR_GEN_SERVICE (self), invocation);
}

static void
run_reload (DdrDbusService *self, GDBusMethodInvocation *invocation)
{
  g_autoptr(GError) error = NULL;

  g_message ("reload requested over D-Bus by %s", g_dbus_method_invocation_get_sender (invocation));
  if (!ddr_manager_reload (self->manager, &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    ddr_gen_service_complete_reload (DDR_GEN_SERVICE (self), invocation);
}

typedef struct {
  const char *method;
  const char *action;
  void      (*run) (DdrDbusService *self, GDBusMethodInvocation *invocation);
} PrivilegedMethod;

static const PrivilegedMethod privileged_methods[] = {
  { "Pause",  ACTION_PAUSE,     run_pause },
  { "Resume", ACTION_PAUSE,     run_resume },
  { "Reload", ACTION_CONFIGURE, run_reload },
};

static const PrivilegedMethod *
find_privileged (GDBusMethodInvocation *invocation)
{
  const char *iface = g_dbus_method_invocation_get_interface_name (invocation);
  const char *method = g_dbus_method_invocation_get_method_name (invocation);

  if (g_strcmp0 (iface, DDR_INTERFACE) != 0)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (privileged_methods); i++)
    if (g_str_equal (method, privileged_methods[i].method))
      return &privileged_methods[i];
  return NULL;
}

typedef struct {
  DdrDbusService         *self;
  GDBusMethodInvocation  *invocation;
  const PrivilegedMethod *method;
} AuthCall;

static void
auth_call_free (AuthCall *call)
{
  g_object_unref (call->self);
  g_object_unref (call->invocation);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthCall, auth_call_free)

static void
on_authorized (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(AuthCall) call = user_data;
  g_autoptr(GError) error = NULL;

  if (!ddr_polkit_check_finish (res, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_dbus_method_invocation_return_error_literal (call->invocation, DDR_ERROR,
                                                       DDR_ERROR_FAILED,
                                                       "The daemon is stopping.");
      else
        {
          g_info ("%s refused for %s: %s", call->method->method,
                  g_dbus_method_invocation_get_sender (call->invocation), error->message);
          g_dbus_method_invocation_return_gerror (call->invocation, error);
        }
      return;
    }
  call->method->run (call->self, call->invocation);
}

/* Runs for every incoming call before its handler. Privileged methods are answered
 * later, from on_authorized: returning FALSE tells the skeleton we keep the
 * invocation and will complete it ourselves, so the main loop never waits for polkit.
 * Every caller is asked about, root too. */
static gboolean
ddr_dbus_service_authorize_method (GDBusInterfaceSkeleton *skeleton,
                                   GDBusMethodInvocation  *invocation)
{
  DdrDbusService *self = DDR_DBUS_SERVICE (skeleton);
  const PrivilegedMethod *method = find_privileged (invocation);
  GDBusMessage *message = g_dbus_method_invocation_get_message (invocation);
  gboolean interactive;
  AuthCall *call;

  if (!method)
    return TRUE;

  interactive = (g_dbus_message_get_flags (message)
                 & G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION) != 0;
  call = g_new0 (AuthCall, 1);
  call->self = g_object_ref (self);
  call->invocation = g_object_ref (invocation);
  call->method = method;
  ddr_polkit_check_async (g_dbus_method_invocation_get_connection (invocation),
                          g_dbus_method_invocation_get_sender (invocation),
                          method->action, interactive, self->cancellable,
                          on_authorized, call);
  return FALSE;
}

/* ---- unprivileged methods -------------------------------------------------------- */

static gboolean
handle_get_statistics (DdrGenService *object, GDBusMethodInvocation *invocation)
{
  DdrDbusService *self = DDR_DBUS_SERVICE (object);

  ddr_gen_service_complete_get_statistics (object, invocation,
                                           ddr_manager_get_statistics (self->manager));
  return TRUE;
}

static gboolean
handle_reprobe (DdrGenService *object, GDBusMethodInvocation *invocation)
{
  ddr_manager_reprobe (DDR_DBUS_SERVICE (object)->manager);
  ddr_gen_service_complete_reprobe (object, invocation);
  return TRUE;
}

static void
run_notify_network_event (DdrDbusService *self, GDBusMethodInvocation *invocation)
{
  g_autoptr(GVariant) env = NULL;
  const char *action, *iface;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&s&s@a{ss})",
                 &action, &iface, &env);
  if (action[0] == '\0' || strlen (action) > MAX_ACTION_LEN)
    {
      g_dbus_method_invocation_return_error (invocation, DDR_ERROR, DDR_ERROR_INVALID_ARGS,
                                             "The action must be a dispatcher action such as "
                                             "\"up\" (1 to %d characters)", MAX_ACTION_LEN);
      return;
    }
  ddr_manager_network_event (self->manager, action, iface, (guint) g_variant_n_children (env));
  ddr_gen_service_complete_notify_network_event (DDR_GEN_SERVICE (self), invocation);
}

static void
on_caller_uid (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(AuthCall) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  guint32 uid = G_MAXUINT32;

  if (reply)
    g_variant_get (reply, "(u)", &uid);
  if (uid != 0)
    {
      g_info ("NotifyNetworkEvent refused for %s (uid %d): only root sends network events",
              g_dbus_method_invocation_get_sender (call->invocation), uid == G_MAXUINT32 ? -1
                                                                      : (int) uid);
      g_dbus_method_invocation_return_error_literal (call->invocation, DDR_ERROR,
                                                     DDR_ERROR_NOT_AUTHORIZED,
                                                     "Only root (NetworkManager's dispatcher) "
                                                     "may send network events.");
      return;
    }
  run_notify_network_event (call->self, call->invocation);
}

/* The bus policy already lets only root call it; the daemon checks too, so a
 * loosened or broken policy cannot let a user drive the roaming controller. */
static gboolean
handle_notify_network_event (DdrGenService         *object,
                             GDBusMethodInvocation *invocation,
                             const char            *action,
                             const char            *iface,
                             GVariant              *env)
{
  AuthCall *call = g_new0 (AuthCall, 1);

  call->self = g_object_ref (DDR_DBUS_SERVICE (object));
  call->invocation = g_object_ref (invocation);
  g_dbus_connection_call (g_dbus_method_invocation_get_connection (invocation),
                          "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", g_dbus_method_invocation_get_sender (invocation)),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, 5000,
                          call->self->cancellable, on_caller_uid, call);
  return TRUE;
}

/* Never reached: authorize_method keeps these; kept so no call can bypass polkit
 * if the skeleton ever dispatched them. */
static gboolean
handle_refused (DdrGenService *object, GDBusMethodInvocation *invocation)
{
  g_dbus_method_invocation_return_error_literal (invocation, DDR_ERROR,
                                                 DDR_ERROR_NOT_AUTHORIZED, "Not authorized");
  return TRUE;
}

static gboolean
handle_pause_refused (DdrGenService *object, GDBusMethodInvocation *invocation, guint minutes)
{
  return handle_refused (object, invocation);
}

static void
ddr_dbus_service_iface_init (DdrGenServiceIface *iface)
{
  iface->handle_get_statistics = handle_get_statistics;
  iface->handle_reprobe = handle_reprobe;
  iface->handle_notify_network_event = handle_notify_network_event;
  iface->handle_pause = handle_pause_refused;
  iface->handle_resume = handle_refused;
  iface->handle_reload = handle_refused;
}

/* ---- bus name --------------------------------------------------------------------- */

static void
call_ready (DdrDbusService *self)
{
  DdrReadyFunc ready = self->ready;

  self->ready = NULL;
  if (ready)
    ready (self->ready_data);
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DdrDbusService *self = user_data;

  g_info ("owning %s on the system bus", name);
  call_ready (self);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DdrDbusService *self = user_data;

  if (connection == NULL || g_dbus_connection_is_closed (connection))
    g_warning ("lost the system bus connection: the D-Bus service is off, "
               "the relay keeps serving DNS");
  else
    g_warning ("cannot own %s on the system bus: another instance owns it, or the bus "
               "policy refuses it (%s.conf must be in /usr/share/dbus-1/system.d or "
               "/etc/dbus-1/system.d; installed under another prefix such as /usr/local, "
               "dbus-daemon never reads it). The D-Bus service is off; the relay keeps "
               "serving DNS, and nothing is steered", name, name);
  call_ready (self);
}

static void
on_bus (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(DdrDbusService) self = user_data;
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection;

  connection = g_bus_get_finish (res, &error);
  if (!connection)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_warning ("no system bus (%s): the D-Bus service is off, the relay keeps "
                     "serving DNS", error->message);
          call_ready (self);
        }
      return;
    }
  self->connection = connection;
  /* The relay outlives the bus: a restarted dbus-daemon must not stop DNS. */
  g_dbus_connection_set_exit_on_close (connection, FALSE);

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self), connection,
                                         DDR_OBJECT_PATH, &error))
    {
      g_warning ("cannot export %s: %s; the relay keeps serving DNS", DDR_OBJECT_PATH,
                 error->message);
      call_ready (self);
      return;
    }
  self->exported = TRUE;
  /* Last of all, once the relay is bound and the object is in place. */
  self->owner_id = g_bus_own_name_on_connection (connection, DDR_BUS_NAME,
                                                 G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                                 on_name_acquired, on_name_lost,
                                                 self, NULL);
}

void
ddr_dbus_service_publish (DdrDbusService *self, GCallback ready, gpointer user_data)
{
  g_return_if_fail (DDR_IS_DBUS_SERVICE (self));
  g_return_if_fail (self->connection == NULL);

  self->ready = (DdrReadyFunc) ready;
  self->ready_data = user_data;
  g_bus_get (G_BUS_TYPE_SYSTEM, self->cancellable, on_bus, g_object_ref (self));
}

void
ddr_dbus_service_unpublish (DdrDbusService *self)
{
  g_return_if_fail (DDR_IS_DBUS_SERVICE (self));

  self->ready = NULL;
  g_cancellable_cancel (self->cancellable);
  if (self->owner_id)
    g_bus_unown_name (self->owner_id);
  self->owner_id = 0;
  if (self->exported)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self));
  self->exported = FALSE;
  if (self->connection && !g_dbus_connection_is_closed (self->connection))
    g_dbus_connection_flush_sync (self->connection, NULL, NULL);
  g_clear_object (&self->connection);
}

/* ---- GObject ------------------------------------------------------------------------ */

static void
ddr_dbus_service_finalize (GObject *object)
{
  DdrDbusService *self = DDR_DBUS_SERVICE (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (ddr_dbus_service_parent_class)->finalize (object);
}

static void
ddr_dbus_service_class_init (DdrDbusServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ddr_dbus_service_finalize;
  G_DBUS_INTERFACE_SKELETON_CLASS (klass)->g_authorize_method =
    ddr_dbus_service_authorize_method;
}

static void
ddr_dbus_service_init (DdrDbusService *self)
{
  self->cancellable = g_cancellable_new ();
}

DdrDbusService *
ddr_dbus_service_new (DdrManager *manager)
{
  DdrDbusService *self = g_object_new (DDR_TYPE_DBUS_SERVICE, NULL);

  self->manager = manager;
  return self;
}
