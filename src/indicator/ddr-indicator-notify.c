/* Desktop notifications (org.freedesktop.Notifications): one bubble at a time, each
 * replacing the one before, and the "Log in" action back to the indicator. */
#define G_LOG_DOMAIN "ddr-indicator"

#include "config.h"

#include <glib/gi18n.h>

#include "ddr-indicator-notify.h"

#define NOTIFY_NAME  "org.freedesktop.Notifications"
#define NOTIFY_PATH  "/org/freedesktop/Notifications"
#define NOTIFY_IFACE "org.freedesktop.Notifications"
#define CALL_TIMEOUT_MS 10000
/* the one action key: "default" is also a click on the bubble itself */
#define ACTION_KEY "default"

struct _DdrIndicatorNotify {
  GDBusConnection         *bus;
  GCancellable            *cancellable;
  guint                    watch_id;
  guint                    action_sub;
  guint                    closed_sub;
  guint32                  shown_id;      /* the bubble to replace, 0 = none */
  gboolean                 shown_action;  /* it carries the action */
  gboolean                 markup;        /* the server reads markup in the body */
  gboolean                 in_flight;     /* a Notify awaits its id */
  GVariant                *pending;       /* (sssms): the next one, sent after that */
  DdrIndicatorNotifyAction action;
  gpointer                 user_data;
};

typedef struct {
  DdrIndicatorNotify *self;
  gboolean            has_action;
} NotifyCall;

static void send_notify (DdrIndicatorNotify *self, const char *icon_name, const char *summary,
                         const char *body, const char *action_label);

static void
on_action_invoked (GDBusConnection *bus, const char *sender, const char *path,
                   const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  DdrIndicatorNotify *self = user_data;
  guint32 id;
  const char *key;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(us)")))
    return;
  g_variant_get (params, "(u&s)", &id, &key);
  g_debug ("action %s on notification %u", key, id);
  if (id != 0 && id == self->shown_id && self->shown_action && g_str_equal (key, ACTION_KEY))
    self->action (self->user_data);
}

static void
on_closed (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
           const char *signal, GVariant *params, gpointer user_data)
{
  guint32 id, reason;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(uu)")))
    return;
  g_variant_get (params, "(uu)", &id, &reason);
  /* ActionInvoked comes before NotificationClosed; the id is kept so a later notice
   * still replaces nothing visible and the server hands out a new one */
  g_debug ("notification %u closed (%u)", id, reason);
}

static void
on_capabilities (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  g_autofree const char **caps = NULL;
  DdrIndicatorNotify *self = user_data;

  if (reply == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("GetCapabilities: %s", error->message);
      return;
    }
  g_variant_get (reply, "(^a&s)", &caps);
  self->markup = g_strv_contains (caps, "body-markup");
}

static void
on_server_appeared (GDBusConnection *bus, const char *name, const char *owner, gpointer user_data)
{
  DdrIndicatorNotify *self = user_data;

  g_info ("notification server %s appeared", owner);
  g_dbus_connection_call (bus, NOTIFY_NAME, NOTIFY_PATH, NOTIFY_IFACE, "GetCapabilities",
                          NULL, G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          CALL_TIMEOUT_MS, self->cancellable, on_capabilities, self);
}

static void
on_server_vanished (GDBusConnection *bus, const char *name, gpointer user_data)
{
  DdrIndicatorNotify *self = user_data;

  /* a new server knows none of the old ids */
  self->shown_id = 0;
  self->shown_action = FALSE;
  self->markup = FALSE;
}

DdrIndicatorNotify *
ddr_indicator_notify_new (GDBusConnection *session, DdrIndicatorNotifyAction action,
                          gpointer user_data)
{
  DdrIndicatorNotify *self = g_new0 (DdrIndicatorNotify, 1);

  self->bus = g_object_ref (session);
  self->cancellable = g_cancellable_new ();
  self->action = action;
  self->user_data = user_data;
  /* the server sends these to the connection that called Notify, i.e. to us */
  self->action_sub = g_dbus_connection_signal_subscribe (session, NOTIFY_NAME, NOTIFY_IFACE,
                                                         "ActionInvoked", NOTIFY_PATH, NULL,
                                                         G_DBUS_SIGNAL_FLAGS_NONE,
                                                         on_action_invoked, self, NULL);
  self->closed_sub = g_dbus_connection_signal_subscribe (session, NOTIFY_NAME, NOTIFY_IFACE,
                                                         "NotificationClosed", NOTIFY_PATH, NULL,
                                                         G_DBUS_SIGNAL_FLAGS_NONE,
                                                         on_closed, self, NULL);
  self->watch_id = g_bus_watch_name_on_connection (session, NOTIFY_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   on_server_appeared, on_server_vanished,
                                                   self, NULL);
  return self;
}

void
ddr_indicator_notify_free (DdrIndicatorNotify *self)
{
  if (self == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  g_bus_unwatch_name (self->watch_id);
  g_dbus_connection_signal_unsubscribe (self->bus, self->action_sub);
  g_dbus_connection_signal_unsubscribe (self->bus, self->closed_sub);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->bus);
  g_clear_pointer (&self->pending, g_variant_unref);
  g_free (self);
}

static void
on_notified (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autofree NotifyCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  g_autoptr(GVariant) next = NULL;
  DdrIndicatorNotify *self = call->self;
  const char *icon, *summary, *body, *action;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->in_flight = FALSE;
  if (reply == NULL)
    g_info ("No notification shown: %s", error->message);
  else
    {
      g_variant_get (reply, "(u)", &self->shown_id);
      self->shown_action = call->has_action;
      g_debug ("notification %u shown", self->shown_id);
    }
  next = g_steal_pointer (&self->pending);
  if (next == NULL)
    return;
  g_variant_get (next, "(&s&s&sm&s)", &icon, &summary, &body, &action);
  send_notify (self, icon, summary, body, action);
}

static void
send_notify (DdrIndicatorNotify *self, const char *icon_name, const char *summary,
             const char *body, const char *action_label)
{
  g_autofree char *text = self->markup ? g_markup_escape_text (body, -1) : g_strdup (body);
  GVariantBuilder actions, hints;
  NotifyCall *call = g_new0 (NotifyCall, 1);

  g_variant_builder_init (&actions, G_VARIANT_TYPE ("as"));
  if (action_label)
    {
      g_variant_builder_add (&actions, "s", ACTION_KEY);
      g_variant_builder_add (&actions, "s", action_label);
    }
  g_variant_builder_init (&hints, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&hints, "{sv}", "desktop-entry",
                         g_variant_new_string ("threatstop-ddr-indicator"));
  g_variant_builder_add (&hints, "{sv}", "urgency", g_variant_new_byte (1));
  call->self = self;
  call->has_action = action_label != NULL;
  self->in_flight = TRUE;
  g_info ("notification: %s", summary);
  /* Notify may start a D-Bus-activatable notification server, as every desktop
   * application's notifications do */
  g_dbus_connection_call (self->bus, NOTIFY_NAME, NOTIFY_PATH, NOTIFY_IFACE, "Notify",
                          g_variant_new ("(susssasa{sv}i)", _("ThreatSTOP DNS Defense"),
                                         self->shown_id, icon_name, summary, text,
                                         &actions, &hints, -1),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                          self->cancellable, on_notified, call);
}

void
ddr_indicator_notify_show (DdrIndicatorNotify *self,
                           const char         *icon_name,
                           const char         *summary,
                           const char         *body,
                           const char         *action_label)
{
  /* one at a time: the next must know the id to replace, so it waits for the reply
   * (only the newest waiting one is kept) */
  if (self->in_flight)
    {
      g_clear_pointer (&self->pending, g_variant_unref);
      self->pending = g_variant_ref_sink (g_variant_new ("(sssms)", icon_name, summary, body,
                                                         action_label));
      return;
    }
  send_notify (self, icon_name, summary, body, action_label);
}
