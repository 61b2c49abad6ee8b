/* Follows com.threatstop.DDR1 on the system bus: properties, the name coming and going,
 * the calls the menu makes, and whether polkit would let this user pause. */
#define G_LOG_DOMAIN "ddr-indicator"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ddr-indicator-daemon.h"

#define DDR_BUS_NAME    "com.threatstop.DDR1"
#define DDR_OBJECT_PATH "/com/threatstop/DDR1"
#define DDR_INTERFACE   "com.threatstop.DDR1"
#define DDR_ERROR_NOT_AUTHORIZED "com.threatstop.DDR1.Error.NotAuthorized"
#define DDR_ERROR_FAILED         "com.threatstop.DDR1.Error.Failed"

#define POLKIT_NAME  "org.freedesktop.PolicyKit1"
#define POLKIT_PATH  "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_IFACE "org.freedesktop.PolicyKit1.Authority"
#define POLKIT_PAUSE "com.threatstop.ddr.pause"

#define CALL_TIMEOUT_MS             (25 * 1000)
/* the polkit agent may wait for the person to type a password */
#define INTERACTIVE_CALL_TIMEOUT_MS (5 * 60 * 1000)

struct _DdrIndicatorDaemon {
  GCancellable             *cancellable;
  GDBusConnection          *system_bus;
  GDBusProxy               *proxy;
  gboolean                  may_pause;
  DdrIndicatorDaemonChanged changed;
  gpointer                  user_data;
};

typedef struct {
  char                *method;
  DdrIndicatorCallDone done;
  gpointer             user_data;
  DdrIndicatorDaemon  *daemon;
} CallData;

static gboolean
running (DdrIndicatorDaemon *self)
{
  g_autofree char *owner = NULL;

  if (self->proxy == NULL)
    return FALSE;
  owner = g_dbus_proxy_get_name_owner (self->proxy);
  return owner != NULL;
}

const char *
ddr_indicator_daemon_string (DdrIndicatorDaemon *self, const char *name)
{
  g_autoptr(GVariant) v = NULL;

  if (self->proxy == NULL)
    return "";
  v = g_dbus_proxy_get_cached_property (self->proxy, name);
  if (v == NULL || !g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
    return "";
  /* the proxy's cache keeps the value alive until the next change */
  return g_variant_get_string (v, NULL);
}

guint64
ddr_indicator_daemon_uint64 (DdrIndicatorDaemon *self, const char *name)
{
  g_autoptr(GVariant) v = NULL;

  if (self->proxy == NULL)
    return 0;
  v = g_dbus_proxy_get_cached_property (self->proxy, name);
  if (v == NULL || !g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64))
    return 0;
  return g_variant_get_uint64 (v);
}

static gboolean
boolean_property (DdrIndicatorDaemon *self, const char *name)
{
  g_autoptr(GVariant) v = NULL;

  if (self->proxy == NULL)
    return FALSE;
  v = g_dbus_proxy_get_cached_property (self->proxy, name);
  return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean (v);
}

void
ddr_indicator_daemon_fill (DdrIndicatorDaemon *self, DdrIndicatorInput *in)
{
  in->running = running (self);
  in->state = ddr_indicator_daemon_string (self, "State");
  in->protected_ = boolean_property (self, "Protected");
  in->network = ddr_indicator_daemon_string (self, "Network");
  in->portal_url = ddr_indicator_daemon_string (self, "PortalUrl");
  in->reason = ddr_indicator_daemon_string (self, "Reason");
  in->paused_until = ddr_indicator_daemon_uint64 (self, "PausedUntil");
  in->unprotected_since = ddr_indicator_daemon_uint64 (self, "UnprotectedSince");
  in->may_pause = self->may_pause;
}

static void
on_polkit_checked (GObject *source, GAsyncResult *res, gpointer user_data)
{
  DdrIndicatorDaemon *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  gboolean authorized = FALSE, challenge = FALSE, may;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    {
      /* no polkit to ask: offer the items, the daemon has the last word */
      g_debug ("polkit check failed: %s", error->message);
      may = TRUE;
    }
  else
    {
      g_variant_get (reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
      /* a challenge means the agent will ask for a password: still offered */
      may = authorized || challenge;
    }
  if (may != self->may_pause)
    {
      self->may_pause = may;
      self->changed (self->user_data);
    }
}

void
ddr_indicator_daemon_recheck (DdrIndicatorDaemon *self)
{
  GVariantBuilder subject;

  if (self->system_bus == NULL)
    return;
  g_variant_builder_init (&subject, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&subject, "{sv}", "name",
                         g_variant_new_string (g_dbus_connection_get_unique_name (self->system_bus)));
  g_dbus_connection_call (self->system_bus, POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE,
                          "CheckAuthorization",
                          g_variant_new ("((sa{sv})sa{ss}us)", "system-bus-name", &subject,
                                         POLKIT_PAUSE, NULL, 0u, ""),
                          G_VARIANT_TYPE ("((bba{ss}))"), G_DBUS_CALL_FLAGS_NONE,
                          CALL_TIMEOUT_MS, self->cancellable, on_polkit_checked, self);
}

static void
on_properties_changed (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer user_data)
{
  DdrIndicatorDaemon *self = user_data;

  self->changed (self->user_data);
}

static void
on_owner_changed (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  DdrIndicatorDaemon *self = user_data;
  gboolean up = running (self);

  g_info ("%s %s", DDR_BUS_NAME, up ? "appeared on the system bus" : "left the system bus");
  if (up)
    ddr_indicator_daemon_recheck (self);
  self->changed (self->user_data);
}

static void
on_proxy_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  DdrIndicatorDaemon *self = user_data;
  g_autoptr(GError) error = NULL;
  GDBusProxy *proxy = g_dbus_proxy_new_finish (res, &error);

  if (proxy == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Cannot follow %s: %s", DDR_BUS_NAME, error->message);
      return;
    }
  self->proxy = proxy;
  g_signal_connect (proxy, "g-properties-changed", G_CALLBACK (on_properties_changed), self);
  g_signal_connect (proxy, "notify::g-name-owner", G_CALLBACK (on_owner_changed), self);
  if (!running (self))
    g_info ("%s is not on the system bus (the daemon is not running)", DDR_BUS_NAME);
  ddr_indicator_daemon_recheck (self);
  self->changed (self->user_data);
}

static void
on_bus_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  DdrIndicatorDaemon *self = user_data;
  g_autoptr(GError) error = NULL;
  GDBusConnection *bus = g_bus_get_finish (res, &error);

  if (bus == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Cannot reach the system bus: %s", error->message);
      return;
    }
  self->system_bus = bus;
  /* not activatable: "no owner" means "not running", which is a state to show */
  g_dbus_proxy_new (bus, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, NULL, DDR_BUS_NAME,
                    DDR_OBJECT_PATH, DDR_INTERFACE, self->cancellable, on_proxy_ready, self);
}

DdrIndicatorDaemon *
ddr_indicator_daemon_new (DdrIndicatorDaemonChanged changed, gpointer user_data)
{
  DdrIndicatorDaemon *self = g_new0 (DdrIndicatorDaemon, 1);

  self->cancellable = g_cancellable_new ();
  self->changed = changed;
  self->user_data = user_data;
  self->may_pause = TRUE;
  g_bus_get (G_BUS_TYPE_SYSTEM, self->cancellable, on_bus_ready, self);
  return self;
}

void
ddr_indicator_daemon_free (DdrIndicatorDaemon *self)
{
  if (self == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  if (self->proxy)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_clear_object (&self->proxy);
  g_clear_object (&self->system_bus);
  g_clear_object (&self->cancellable);
  g_free (self);
}

/* One sentence for the person, never a raw D-Bus error. */
static char *
sentence_for (const char *method, GError *error)
{
  g_autofree char *remote = g_dbus_error_get_remote_error (error);

  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return g_strdup (_("The ThreatSTOP DDR service is not running."));
  if (g_strcmp0 (remote, DDR_ERROR_NOT_AUTHORIZED) == 0
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_AUTH_FAILED))
    return g_str_equal (method, "Resume")
      ? g_strdup (_("You are not allowed to resume protection; ask an administrator."))
      : g_strdup (_("You are not allowed to pause protection; ask an administrator."));
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return g_strdup (_("The ThreatSTOP DDR service did not answer in time."));
  if (g_strcmp0 (remote, DDR_ERROR_FAILED) == 0)
    {
      g_autofree char *text = NULL;
      g_dbus_error_strip_remote_error (error);
      text = ddr_indicator_display_text (error->message, 200);
      /* TRANSLATORS: %s is the daemon's own sentence, such as "nothing to pause" */
      return g_strdup_printf (_("The ThreatSTOP DDR service refused: %s"), text);
    }
  g_dbus_error_strip_remote_error (error);
  g_warning ("%s failed: %s", method, error->message);
  return g_strdup (_("The request to the ThreatSTOP DDR service failed."));
}

static void
on_call_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  CallData *data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *sentence = NULL;
  g_autofree char *method = data->method;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (reply == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      sentence = sentence_for (method, error);
      g_info ("%s refused: %s", method, error->message);
      /* the refusal may mean polkit's answer changed: grey out what it refuses */
      ddr_indicator_daemon_recheck (data->daemon);
    }
  else if (reply != NULL)
    g_info ("%s done", method);
  if (reply != NULL || sentence != NULL)
    data->done (sentence, data->user_data);
  g_free (data);
}

void
ddr_indicator_daemon_call (DdrIndicatorDaemon  *self,
                           const char          *method,
                           GVariant            *parameters,
                           DdrIndicatorCallDone done,
                           gpointer             user_data)
{
  gboolean interactive = g_str_equal (method, "Pause") || g_str_equal (method, "Resume");
  CallData *data;

  g_variant_ref_sink (parameters);
  if (self->system_bus == NULL || !running (self))
    {
      g_variant_unref (parameters);
      done (_("The ThreatSTOP DDR service is not running."), user_data);
      return;
    }
  data = g_new0 (CallData, 1);
  data->method = g_strdup (method);
  data->done = done;
  data->user_data = user_data;
  data->daemon = self;
  g_info ("calling %s", method);
  g_dbus_connection_call (self->system_bus, DDR_BUS_NAME, DDR_OBJECT_PATH, DDR_INTERFACE,
                          method, parameters, NULL,
                          G_DBUS_CALL_FLAGS_NO_AUTO_START
                          | (interactive ? G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION : 0),
                          interactive ? INTERACTIVE_CALL_TIMEOUT_MS : CALL_TIMEOUT_MS,
                          self->cancellable, on_call_done, data);
  g_variant_unref (parameters);
}
