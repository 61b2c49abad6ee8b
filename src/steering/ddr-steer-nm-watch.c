/* The networkmanager backend's watch: what NM does to the steering behind our back
 * (the activation ended, the profile deleted, NM gone) updates what the backend knows,
 * and the end of the steering activation is reported as a loss. */
#define G_LOG_DOMAIN "ddr-steer"

#include "ddr-steer-nm-private.h"

/* The active connection that carries the steering: the bound activation, else the
 * anchor when it carries the DNS settings (the plain path). */
static const char *
steering_path (DdrSteerNm *self)
{
  return self->bound ? self->bound : self->anchor_dns ? self->active : NULL;
}

/* "nmcli connection down threatstop-ddr", "ip link del ddr0" (NM deactivates what was
 * on it), or anything else that ends our activation while no set call of ours runs. */
static void
steering_ended (DdrSteerNm *self, const char *how)
{
  g_autofree char *why = g_strdup_printf ("the NetworkManager profile %s %s", DDR_STEER_NM_ID,
                                          how);

  if (self->bound)
    g_clear_pointer (&self->bound, g_free);
  else
    g_clear_pointer (&self->active, g_free);
  ddr_steer_backend_report_lost (DDR_STEER_BACKEND (self), why);
}

static void
active_state_changed (GDBusConnection *bus, const char *sender, const char *path,
                      const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  DdrSteerNm *self = user_data;
  guint32 state = 0, reason = 0;

  if (self->busy || g_strcmp0 (path, steering_path (self)) != 0 ||
      !g_variant_is_of_type (params, G_VARIANT_TYPE ("(uu)")))
    return;
  g_variant_get (params, "(uu)", &state, &reason);
  if (state >= AC_DEACTIVATING)
    steering_ended (self, "was deactivated by someone else");
}

static void
active_list_changed (GDBusConnection *bus, const char *sender, const char *path,
                     const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  DdrSteerNm *self = user_data;
  g_autoptr(GVariant) changed = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autofree const char **paths = NULL;
  const char *ours = steering_path (self);

  if (self->busy || !ours || !g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv}as)")))
    return;
  g_variant_get (params, "(&s@a{sv}@as)", NULL, &changed, NULL);
  list = g_variant_lookup_value (changed, "ActiveConnections", G_VARIANT_TYPE ("ao"));
  if (!list)
    return;
  paths = g_variant_get_objv (list, NULL);
  if (!g_strv_contains (paths, ours))
    steering_ended (self, "is no longer active");
}

static void
nm_vanished (GDBusConnection *bus, const char *name, gpointer user_data)
{
  DdrSteerNm *self = user_data;

  if (self->profile || self->active || self->bound)
    g_info ("NetworkManager left the bus; its object paths are forgotten");
  g_clear_pointer (&self->profile, g_free);
  g_clear_pointer (&self->active, g_free);
  g_clear_pointer (&self->bound, g_free);
}

static void
connection_removed (GDBusConnection *bus, const char *sender, const char *path,
                    const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  DdrSteerNm *self = user_data;
  const char *removed = NULL;

  g_variant_get (params, "(&o)", &removed);
  if (g_strcmp0 (removed, self->profile) == 0)
    {
      g_info ("the NetworkManager profile %s was deleted by someone else", DDR_STEER_NM_ID);
      g_clear_pointer (&self->profile, g_free);
      g_clear_pointer (&self->active, g_free);
    }
}

void
ddr_steer_nm_watch (DdrSteerNm *self)
{
  self->watch_id = g_bus_watch_name_on_connection (self->bus, DDR_NM_BUS_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                   nm_vanished, self, NULL);
  self->removed_id = g_dbus_connection_signal_subscribe (self->bus, DDR_NM_BUS_NAME,
                                                         SETTINGS_IFACE, "ConnectionRemoved",
                                                         SETTINGS_PATH, NULL,
                                                         G_DBUS_SIGNAL_FLAGS_NONE,
                                                         connection_removed, self, NULL);
  self->state_id = g_dbus_connection_signal_subscribe (self->bus, DDR_NM_BUS_NAME, ACTIVE_IFACE,
                                                       "StateChanged", NULL, NULL,
                                                       G_DBUS_SIGNAL_FLAGS_NONE,
                                                       active_state_changed, self, NULL);
  self->active_list_id = g_dbus_connection_signal_subscribe (self->bus, DDR_NM_BUS_NAME,
                                                             PROPS_IFACE, "PropertiesChanged",
                                                             NM_PATH, NM_IFACE,
                                                             G_DBUS_SIGNAL_FLAGS_NONE,
                                                             active_list_changed, self, NULL);
}

void
ddr_steer_nm_unwatch (DdrSteerNm *self)
{
  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  if (self->removed_id)
    g_dbus_connection_signal_unsubscribe (self->bus, self->removed_id);
  if (self->state_id)
    g_dbus_connection_signal_unsubscribe (self->bus, self->state_id);
  if (self->active_list_id)
    g_dbus_connection_signal_unsubscribe (self->bus, self->active_list_id);
  self->removed_id = self->state_id = self->active_list_id = 0;
}
