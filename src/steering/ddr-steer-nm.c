/* The networkmanager backend: one owned in-memory NM profile (ddr0) over raw GDBus; active = on. */
#define G_LOG_DOMAIN "ddr-steer"

#include <arpa/inet.h>

#include "ddr-steer-private.h"

#define NM_PATH           "/org/freedesktop/NetworkManager"
#define NM_IFACE          "org.freedesktop.NetworkManager"
#define SETTINGS_PATH     "/org/freedesktop/NetworkManager/Settings"
#define SETTINGS_IFACE    "org.freedesktop.NetworkManager.Settings"
#define CONNECTION_IFACE  "org.freedesktop.NetworkManager.Settings.Connection"
#define ACTIVE_IFACE      "org.freedesktop.NetworkManager.Connection.Active"
#define PROPS_IFACE       "org.freedesktop.DBus.Properties"
/* NMSettingsAddConnection2Flags: IN_MEMORY | BLOCK_AUTOCONNECT (steer.md §2.2). */
#define ADD_FLAGS         0x22
#define CALL_TIMEOUT_MS   15000
/* NMActiveConnectionState: ACTIVATING, ACTIVATED count as on. */
#define AC_ACTIVATING     1
#define AC_ACTIVATED      2

struct _DdrSteerNm {
  DdrSteerBackend parent;
  GDBusConnection *bus;
  DdrSteerLinkType link;
  char *profile;        /* settings path of the owned profile; NULL = not known */
  char *active;         /* its active connection; NULL = none known */
  gboolean cleaned;     /* stale profiles removed (first use in this process) */
  guint watch_id;
  guint removed_id;
};

G_DEFINE_FINAL_TYPE (DdrSteerNm, ddr_steer_nm, DDR_TYPE_STEER_BACKEND)

/* One set call walking the steps below; paths is the list being walked. */
typedef struct {
  gboolean on;
  char **paths;
  guint i;
  GPtrArray *doomed;    /* stale profiles to delete */
} Op;

static void
op_free (Op *op)
{
  g_strfreev (op->paths);
  g_ptr_array_unref (op->doomed);
  g_free (op);
}

static GVariant *
profile_settings (DdrSteerLinkType link)
{
  GVariantBuilder all, s, addr, addrs, dns, search;
  struct in_addr lo;

  inet_pton (AF_INET, "127.0.0.1", &lo);
  g_variant_builder_init (&all, G_VARIANT_TYPE ("a{sa{sv}}"));

  g_variant_builder_init (&s, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&s, "{sv}", "id", g_variant_new_string (DDR_STEER_NM_ID));
  g_variant_builder_add (&s, "{sv}", "uuid", g_variant_new_string (DDR_STEER_NM_UUID));
  g_variant_builder_add (&s, "{sv}", "type",
                         g_variant_new_string (link == DDR_STEER_LINK_VETH ? "veth" : "dummy"));
  g_variant_builder_add (&s, "{sv}", "interface-name", g_variant_new_string (DDR_STEER_IFACE));
  g_variant_builder_add (&s, "{sv}", "autoconnect", g_variant_new_boolean (FALSE));
  g_variant_builder_add (&all, "{sa{sv}}", "connection", &s);

  g_variant_builder_init (&s, G_VARIANT_TYPE_VARDICT);
  if (link == DDR_STEER_LINK_VETH)
    g_variant_builder_add (&s, "{sv}", "peer", g_variant_new_string (DDR_STEER_VETH_PEER));
  g_variant_builder_add (&all, "{sa{sv}}", link == DDR_STEER_LINK_VETH ? "veth" : "dummy", &s);

  g_variant_builder_init (&addr, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&addr, "{sv}", "address", g_variant_new_string (DDR_STEER_ADDRESS));
  g_variant_builder_add (&addr, "{sv}", "prefix", g_variant_new_uint32 (32));
  g_variant_builder_init (&addrs, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_add_value (&addrs, g_variant_builder_end (&addr));
  /* ipv4.dns is "au": addresses in network byte order. */
  g_variant_builder_init (&dns, G_VARIANT_TYPE ("au"));
  g_variant_builder_add (&dns, "u", (guint32) lo.s_addr);
  g_variant_builder_init (&search, G_VARIANT_TYPE ("as"));
  g_variant_builder_add (&search, "s", "~.");
  g_variant_builder_init (&s, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&s, "{sv}", "method", g_variant_new_string ("manual"));
  g_variant_builder_add (&s, "{sv}", "address-data", g_variant_builder_end (&addrs));
  g_variant_builder_add (&s, "{sv}", "never-default", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&s, "{sv}", "dns", g_variant_builder_end (&dns));
  g_variant_builder_add (&s, "{sv}", "dns-search", g_variant_builder_end (&search));
  /* Negative: the only priority that keeps the network's servers out in every NM
   * DNS mode (DESIGN.md, "How system DNS is steered"). */
  g_variant_builder_add (&s, "{sv}", "dns-priority", g_variant_new_int32 (-500));
  g_variant_builder_add (&all, "{sa{sv}}", "ipv4", &s);

  g_variant_builder_init (&s, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&s, "{sv}", "method", g_variant_new_string ("disabled"));
  g_variant_builder_add (&all, "{sa{sv}}", "ipv6", &s);
  return g_variant_builder_end (&all);
}

/* Is this a{sa{sv}} one of ours (by UUID or by id)? */
static gboolean
settings_are_ours (GVariant *settings)
{
  g_autoptr(GVariant) conn = g_variant_lookup_value (settings, "connection",
                                                    G_VARIANT_TYPE_VARDICT);
  const char *uuid = NULL, *id = NULL;

  if (!conn)
    return FALSE;
  g_variant_lookup (conn, "uuid", "&s", &uuid);
  g_variant_lookup (conn, "id", "&s", &id);
  return g_strcmp0 (uuid, DDR_STEER_NM_UUID) == 0 || g_strcmp0 (id, DDR_STEER_NM_ID) == 0;
}

static gboolean
active_is_ours (GVariant *props)
{
  const char *uuid = NULL;
  guint32 state = 0;

  g_variant_lookup (props, "Uuid", "&s", &uuid);
  g_variant_lookup (props, "State", "u", &state);
  return g_strcmp0 (uuid, DDR_STEER_NM_UUID) == 0
         && (state == AC_ACTIVATING || state == AC_ACTIVATED);
}

static void
call (GTask *task, const char *path, const char *iface, const char *method, GVariant *params,
      const char *reply_type, GAsyncReadyCallback cb)
{
  DdrSteerNm *self = g_task_get_source_object (task);

  g_dbus_connection_call (self->bus, DDR_NM_BUS_NAME, path, iface, method, params,
                          G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                          g_task_get_cancellable (task), cb, task);
}

/* The reply, or NULL after the task was finished with the error. */
static GVariant *
reply_or_return (GObject *source, GAsyncResult *result, GTask *task, const char *what)
{
  GError *error = NULL;
  GVariant *reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (!reply)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_dbus_error_strip_remote_error (error);
          g_prefix_error (&error, "NetworkManager %s: ", what);
        }
      g_task_return_error (task, error);
      g_object_unref (task);
    }
  return reply;
}

static void scan_active (GTask *task);
static void get_next_settings (GTask *task);
static void delete_next (GTask *task);

static void
switched_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DdrSteerNm *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (!reply)
    {
      /* The profile may have gone under us: find or add it again next time. */
      if (op->on && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_clear_pointer (&self->profile, g_free);
      g_dbus_error_strip_remote_error (error);
      g_prefix_error (&error, "NetworkManager %s: ",
                      op->on ? "ActivateConnection" : "DeactivateConnection");
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_clear_pointer (&self->active, g_free);
  if (op->on)
    g_variant_get (reply, "(o)", &self->active);
  g_info ("NetworkManager profile %s %s (%s)", DDR_STEER_NM_ID,
          op->on ? "activated" : "deactivated", self->active ? self->active : "-");
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* Never re-activate an active profile: that opens a 10-25 ms leak (steer.md §1.4). */
static void
switch_state (GTask *task)
{
  DdrSteerNm *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);

  if (op->on && !self->active)
    call (task, NM_PATH, NM_IFACE, "ActivateConnection",
          g_variant_new ("(ooo)", self->profile, "/", "/"), "(o)", switched_cb);
  else if (!op->on && self->active)
    call (task, NM_PATH, NM_IFACE, "DeactivateConnection",
          g_variant_new ("(o)", self->active), "()", switched_cb);
  else
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

static void
active_next (GTask *task);

static void
active_props_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DdrSteerNm *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  g_autoptr(GVariant) props = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  /* An active connection that vanished meanwhile is simply not ours. */
  if (reply)
    {
      g_variant_get (reply, "(@a{sv})", &props);
      if (active_is_ours (props))
        {
          g_free (self->active);
          self->active = g_strdup (op->paths[op->i]);
          switch_state (task);
          return;
        }
    }
  op->i++;
  active_next (task);
}

static void
active_next (GTask *task)
{
  Op *op = g_task_get_task_data (task);

  if (!op->paths[op->i])
    {
      switch_state (task);
      return;
    }
  call (task, op->paths[op->i], PROPS_IFACE, "GetAll", g_variant_new ("(s)", ACTIVE_IFACE),
        "(a{sv})", active_props_cb);
}

static void
active_list_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DdrSteerNm *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = reply_or_return (source, result, task, "ActiveConnections");
  g_autoptr(GVariant) value = NULL;

  if (!reply)
    return;
  g_variant_get (reply, "(v)", &value);
  g_strfreev (op->paths);
  op->paths = g_variant_dup_objv (value, NULL);
  op->i = 0;
  g_clear_pointer (&self->active, g_free);
  active_next (task);
}

/* Ask NM what is active rather than trust memory: someone may have run
 * "nmcli connection down", or NM restarted and kept the profile up. */
static void
scan_active (GTask *task)
{
  call (task, NM_PATH, PROPS_IFACE, "Get", g_variant_new ("(ss)", NM_IFACE, "ActiveConnections"),
        "(v)", active_list_cb);
}

static void
added_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DdrSteerNm *self = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = reply_or_return (source, result, task, "AddConnection2");

  if (!reply)
    return;
  g_clear_pointer (&self->profile, g_free);
  g_variant_get (reply, "(o@a{sv})", &self->profile, NULL);
  g_info ("added the NetworkManager profile %s (%s)", DDR_STEER_NM_ID, self->profile);
  scan_active (task);
}

static void
add_profile (GTask *task)
{
  DdrSteerNm *self = g_task_get_source_object (task);

  call (task, SETTINGS_PATH, SETTINGS_IFACE, "AddConnection2",
        g_variant_new ("(@a{sa{sv}}u@a{sv})", profile_settings (self->link), ADD_FLAGS,
                       g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0)),
        "(oa{sv})", added_cb);
}

static void
by_uuid_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DdrSteerNm *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (!reply)
    {
      add_profile (task);
      return;
    }
  g_variant_get (reply, "(o)", &self->profile);
  g_debug ("NetworkManager still has the profile: %s", self->profile);
  scan_active (task);
}

static void
deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  g_autoptr(GVariant) reply = reply_or_return (source, result, task, "Delete");

  if (reply)
    delete_next (task);
}

static void
delete_next (GTask *task)
{
  DdrSteerNm *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);

  if (op->doomed->len)
    {
      g_autofree char *path = g_ptr_array_steal_index (op->doomed, op->doomed->len - 1);

      g_info ("removing a stale NetworkManager profile %s", path);
      call (task, path, CONNECTION_IFACE, "Delete", NULL, "()", deleted_cb);
      return;
    }
  self->cleaned = TRUE;
  g_clear_pointer (&self->profile, g_free);
  g_clear_pointer (&self->active, g_free);
  if (op->on)
    add_profile (task);
  else
    switch_state (task);
}

static void
settings_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Op *op = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  g_autoptr(GVariant) settings = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (reply)
    {
      g_variant_get (reply, "(@a{sa{sv}})", &settings);
      if (settings_are_ours (settings))
        g_ptr_array_add (op->doomed, g_strdup (op->paths[op->i]));
    }
  op->i++;
  get_next_settings (task);
}

static void
get_next_settings (GTask *task)
{
  Op *op = g_task_get_task_data (task);

  if (!op->paths[op->i])
    {
      delete_next (task);
      return;
    }
  call (task, op->paths[op->i], CONNECTION_IFACE, "GetSettings", NULL, "(a{sa{sv}})",
        settings_cb);
}

static void
list_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Op *op = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = reply_or_return (source, result, task, "ListConnections");

  if (!reply)
    return;
  g_variant_get (reply, "(^ao)", &op->paths);
  op->i = 0;
  get_next_settings (task);
}

/* First use: drop stale profiles (a crash, an older run) and add ours fresh. After an
 * NM restart: adopt the profile NM kept (it lives in /run), add it if gone. */
static void
nm_set_async (DdrSteerBackend     *backend,
              gboolean             on,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  DdrSteerNm *self = DDR_STEER_NM (backend);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Op *op = g_new0 (Op, 1);

  g_task_set_source_tag (task, nm_set_async);
  op->on = on;
  op->doomed = g_ptr_array_new_with_free_func (g_free);
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  if (!self->cleaned)
    call (task, SETTINGS_PATH, SETTINGS_IFACE, "ListConnections", NULL, "(ao)", list_cb);
  else if (on && !self->profile)
    call (task, SETTINGS_PATH, SETTINGS_IFACE, "GetConnectionByUuid",
          g_variant_new ("(s)", DDR_STEER_NM_UUID), "(o)", by_uuid_cb);
  else
    scan_active (task);
}

static void
nm_vanished (GDBusConnection *bus, const char *name, gpointer user_data)
{
  DdrSteerNm *self = user_data;

  if (self->profile || self->active)
    g_info ("NetworkManager left the bus; its object paths are forgotten");
  g_clear_pointer (&self->profile, g_free);
  g_clear_pointer (&self->active, g_free);
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

static void
ddr_steer_nm_dispose (GObject *object)
{
  DdrSteerNm *self = DDR_STEER_NM (object);

  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  if (self->removed_id)
    g_dbus_connection_signal_unsubscribe (self->bus, self->removed_id);
  self->removed_id = 0;
  g_clear_object (&self->bus);
  g_clear_pointer (&self->profile, g_free);
  g_clear_pointer (&self->active, g_free);
  G_OBJECT_CLASS (ddr_steer_nm_parent_class)->dispose (object);
}

static void
ddr_steer_nm_class_init (DdrSteerNmClass *klass)
{
  DdrSteerBackendClass *backend_class = DDR_STEER_BACKEND_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = ddr_steer_nm_dispose;
  backend_class->name = "networkmanager";
  backend_class->set_async = nm_set_async;
}

static void
ddr_steer_nm_init (DdrSteerNm *self)
{
}

DdrSteerBackend *
ddr_steer_nm_new (GDBusConnection *bus, DdrSteerLinkType link)
{
  DdrSteerNm *self = g_object_new (DDR_TYPE_STEER_NM, NULL);

  self->bus = g_object_ref (bus);
  self->link = link;
  self->watch_id = g_bus_watch_name_on_connection (bus, DDR_NM_BUS_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                   nm_vanished, self, NULL);
  self->removed_id = g_dbus_connection_signal_subscribe (bus, DDR_NM_BUS_NAME, SETTINGS_IFACE,
                                                         "ConnectionRemoved", SETTINGS_PATH,
                                                         NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                         connection_removed, self, NULL);
  return DDR_STEER_BACKEND (self);
}
