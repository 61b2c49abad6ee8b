/* Synchronous clean-up of the owned NetworkManager profile (daemon start/stop, restore-dns). */
#define G_LOG_DOMAIN "ddr-steer"

#include <glib/gi18n-lib.h>

#include "ddr-steer-private.h"

static GVariant *
nm_call (GDBusConnection *bus, const char *path, const char *iface, const char *method,
         GVariant *params, const char *reply_type, GError **error)
{
  GVariant *reply = g_dbus_connection_call_sync (bus, DDR_NM_BUS_NAME, path, iface, method,
                                                 params, G_VARIANT_TYPE (reply_type),
                                                 G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                                 CALL_TIMEOUT_MS, NULL, error);

  if (!reply && error && *error)
    g_dbus_error_strip_remote_error (*error);
  return reply;
}

static gboolean
still_active (GDBusConnection *bus, const char *path)
{
  g_autoptr(GVariant) reply = nm_call (bus, path, PROPS_IFACE, "GetAll",
                                       g_variant_new ("(s)", ACTIVE_IFACE), "(a{sv})", NULL);

  return reply != NULL;
}

/* Deactivate every active connection of the owned profiles (matched by either UUID or
 * the id): the anchor and the bound activation (NM then deletes that volatile one). */
static gboolean
deactivate_ours (GDBusConnection *bus, GString *report, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autofree const char **paths = NULL;

  reply = nm_call (bus, NM_PATH, PROPS_IFACE, "Get",
                   g_variant_new ("(ss)", NM_IFACE, "ActiveConnections"), "(v)", error);
  if (!reply)
    return FALSE;
  g_variant_get (reply, "(v)", &value);
  paths = g_variant_get_objv (value, NULL);
  for (guint i = 0; paths[i]; i++)
    {
      g_autoptr(GVariant) props_reply = NULL;
      g_autoptr(GVariant) props = NULL;
      g_autoptr(GVariant) done = NULL;
      g_autoptr(GError) local = NULL;
      const char *uuid = NULL, *id = NULL;

      props_reply = nm_call (bus, paths[i], PROPS_IFACE, "GetAll",
                             g_variant_new ("(s)", ACTIVE_IFACE), "(a{sv})", NULL);
      if (!props_reply)
        continue;   /* gone meanwhile */
      g_variant_get (props_reply, "(@a{sv})", &props);
      g_variant_lookup (props, "Uuid", "&s", &uuid);
      g_variant_lookup (props, "Id", "&s", &id);
      if (g_strcmp0 (uuid, DDR_STEER_NM_UUID) != 0 && g_strcmp0 (uuid, DDR_STEER_NM_BOUND_UUID) != 0
          && g_strcmp0 (id, DDR_STEER_NM_ID) != 0)
        continue;
      done = nm_call (bus, NM_PATH, NM_IFACE, "DeactivateConnection",
                      g_variant_new ("(o)", paths[i]), "()", &local);
      if (!done && !still_active (bus, paths[i]))
        continue;   /* NM was already tearing it down (bind-activation after a kill) */
      if (!done)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("Could not deactivate the NetworkManager profile %s: %s"),
                       DDR_STEER_NM_ID, local->message);
          return FALSE;
        }
      g_info ("deactivated the NetworkManager profile %s (%s)", DDR_STEER_NM_ID, paths[i]);
      if (report)
        g_string_append_printf (report, _("Deactivated the NetworkManager profile %s\n"),
                                DDR_STEER_NM_ID);
    }
  return TRUE;
}

/* Delete every profile with an owned UUID or the id (a stale one may have either). */
static gboolean
delete_ours (GDBusConnection *bus, GString *report, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_auto(GStrv) paths = NULL;

  reply = nm_call (bus, SETTINGS_PATH, SETTINGS_IFACE, "ListConnections", NULL, "(ao)", error);
  if (!reply)
    return FALSE;
  g_variant_get (reply, "(^ao)", &paths);
  for (guint i = 0; paths[i]; i++)
    {
      g_autoptr(GVariant) settings_reply = NULL;
      g_autoptr(GVariant) all = NULL;
      g_autoptr(GVariant) conn = NULL;
      g_autoptr(GVariant) done = NULL;
      g_autoptr(GError) local = NULL;
      const char *uuid = NULL, *id = NULL;

      settings_reply = nm_call (bus, paths[i], CONNECTION_IFACE, "GetSettings", NULL,
                                "(a{sa{sv}})", NULL);
      if (!settings_reply)
        continue;
      g_variant_get (settings_reply, "(@a{sa{sv}})", &all);
      conn = g_variant_lookup_value (all, "connection", G_VARIANT_TYPE_VARDICT);
      if (!conn)
        continue;
      g_variant_lookup (conn, "uuid", "&s", &uuid);
      g_variant_lookup (conn, "id", "&s", &id);
      if (!ddr_steer_nm_settings_are_ours (all))
        continue;
      done = nm_call (bus, paths[i], CONNECTION_IFACE, "Delete", NULL, "()", &local);
      if (!done && ddr_steer_nm_error_vanished (local))
        continue;   /* the volatile bound profile, deleted by NM after the deactivation */
      if (!done)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("Could not delete the NetworkManager profile %s: %s"),
                       id ? id : DDR_STEER_NM_ID, local->message);
          return FALSE;
        }
      g_info ("deleted the NetworkManager profile %s (%s)", id ? id : "?", paths[i]);
      if (report)
        g_string_append_printf (report, _("Deleted the NetworkManager profile %s (%s)\n"),
                                id ? id : DDR_STEER_NM_ID, uuid ? uuid : "?");
    }
  return TRUE;
}

gboolean
ddr_steer_nm_restore (GDBusConnection *bus, GString *report, GError **error)
{
  /* No NetworkManager: nothing of ours can be active in it. */
  if (!ddr_steer_bus_has_owner (bus, DDR_NM_BUS_NAME))
    return TRUE;
  if (!deactivate_ours (bus, report, error))
    return FALSE;
  return delete_ours (bus, report, error);
}
