/* The networkmanager backend: owned in-memory NM profiles on ddr0 over raw GDBus. On =
 * the bound activation (or, without bind-activation, the anchor with DNS) is active;
 * its end, when not ours, is reported as a loss. */
#define G_LOG_DOMAIN "ddr-steer"

#include <string.h>

#include "ddr-steer-nm-private.h"

/* NMSettingsAddConnection2Flags: IN_MEMORY | BLOCK_AUTOCONNECT (steer.md §2.2). */
#define ADD_FLAGS         0x22
/* NMSettingsUpdate2Flags: IN_MEMORY (never write the profile to disk, steer.md §2.1). */
#define UPDATE_IN_MEMORY  0x2
/* NMManagerReloadFlags: write resolv.conf again from NM's DNS configuration. */
#define RELOAD_FLAG_DNS_RC 0x2

G_DEFINE_FINAL_TYPE (DdrSteerNm, ddr_steer_nm, DDR_TYPE_STEER_BACKEND)

/* One set call walking the steps below; paths is the list being walked. */
typedef struct {
  gboolean on;
  gboolean absent;      /* the anchor is known not to exist (just cleaned up) */
  char **paths;
  guint i;
  gboolean retried;     /* one more try after NM refused an activation */
} Op;

/* NM removes a software link a moment after its last activation ends (veth and dummy
 * are deleted on deactivation); an activation asked for in that moment is refused.
 * Look again, once, a little later. */
#define RETRY_DELAY_MS 250

static void scan_active (GTask *task);

static gboolean
retry_cb (gpointer user_data)
{
  scan_active (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
retry_once (GTask *task, const GError *error)
{
  DdrSteerNm *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);

  if (op->retried || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;
  op->retried = TRUE;
  if (!self->first_refusal)
    self->first_refusal = g_strdup (error->message);
  g_debug ("NetworkManager refused an activation (%s); trying again in %u ms",
           error->message, RETRY_DELAY_MS);
  g_timeout_add (RETRY_DELAY_MS, retry_cb, task);
  return TRUE;
}

static void
op_free (Op *op)
{
  g_strfreev (op->paths);
  g_free (op);
}

static void
call (GTask *task, const char *path, const char *iface, const char *method, GVariant *params,
      const char *reply_type, GAsyncReadyCallback cb)
{
  DdrSteerNm *self = g_task_get_source_object (task);

  ddr_steer_nm_call (self->bus, task, path, iface, method, params, reply_type, cb);
}

static void finish (GTask *task, GError *error);

static void
reloaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  /* An NM without Reload (older than 1.22) or refusing it: the proof will tell. */
  if (!reply && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_info ("NetworkManager did not rewrite resolv.conf: %s", error->message);
  finish (user_data, NULL);
}

static void
finish (GTask *task, GError *error)
{
  DdrSteerNm *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);

  /* resolv.conf was rewritten behind NM (a DHCP client, an admin): the steering in NM
   * is intact, so NM must write its file again (NM_MANAGER_RELOAD_FLAG_DNS_RC). */
  if (!error && op->on && self->reload_rc)
    {
      self->reload_rc = FALSE;
      call (task, NM_PATH, NM_IFACE, "Reload", g_variant_new ("(u)", RELOAD_FLAG_DNS_RC), "()",
            reloaded_cb);
      return;
    }
  self->busy = FALSE;
  /* A software link NM cannot create (no dummy type in the kernel) is refused with
   * NM's own reason once ("ddr0 failed to create resources: Failed to create dummy
   * interface ... Operation not supported"); every later try only hears "Failed to
   * find a compatible device". Keep the first words until a steering works: they say
   * what to fix. */
  if (!error)
    g_clear_pointer (&self->first_refusal, g_free);
  else if (self->first_refusal && !strstr (error->message, self->first_refusal)
           && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *then = g_strdup (error->message);

      g_free (error->message);
      error->message = g_strdup_printf ("%s (then %s)", self->first_refusal, then);
    }
  if (error)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
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
      finish (task, error);
    }
  return reply;
}

static void switch_state (GTask *task);
static void plain_activate (GTask *task);
static void prepare (GTask *task);

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
      if (op->on && retry_once (task, error))
        {
          g_error_free (error);
          return;
        }
      /* The profile may have gone under us: find or add it again next time. */
      if (op->on && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_clear_pointer (&self->profile, g_free);
      g_dbus_error_strip_remote_error (error);
      g_prefix_error (&error, "NetworkManager %s: ",
                      op->on ? "ActivateConnection" : "DeactivateConnection");
      finish (task, error);
      return;
    }
  if (op->on)
    {
      g_clear_pointer (&self->active, g_free);
      g_variant_get (reply, "(o)", &self->active);
      g_info ("NetworkManager profile %s activated (%s)", DDR_STEER_NM_ID, self->active);
      /* The anchor was only the link holder (veth): now bind the steering to it. */
      if (!self->anchor_dns)
        {
          switch_state (task);
          return;
        }
    }
  else
    {
      g_info ("NetworkManager profile %s deactivated (%s)", DDR_STEER_NM_ID,
              self->bound ? self->bound : self->active);
      /* NM deletes the volatile bound profile itself; the anchor stays for the next on. */
      if (self->bound)
        g_clear_pointer (&self->bound, g_free);
      else
        g_clear_pointer (&self->active, g_free);
      switch_state (task);
      return;
    }
  finish (task, NULL);
}

static void
bound_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DdrSteerNm *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  char *active = ddr_steer_nm_bind_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      finish (task, g_steal_pointer (&error));
      return;
    }
  if (!active && retry_once (task, error))
    return;
  if (!active)
    {
      /* An unexpected refusal: steer the way that always worked this time (ExecStopPost
       * and start-up clean-up cover a crash), and ask again at the next steering - a
       * passing refusal must not cost the crash safety for the life of the process. */
      g_warning ("NetworkManager refused the bound activation of %s (%s); activating the "
                 "profile without bind-activation this time", DDR_STEER_NM_ID, error->message);
      plain_activate (task);
      return;
    }
  g_free (self->bound);
  self->bound = active;
  g_info ("NetworkManager profile %s activated, bound to this bus connection (%s)",
          DDR_STEER_NM_ID, self->bound);
  finish (task, NULL);
}

static void
unsteered_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DdrSteerNm *self = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = reply_or_return (source, result, task, "Update2");

  if (!reply)
    return;
  self->anchor_dns = FALSE;
  switch_state (task);
}

static void
updated_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DdrSteerNm *self = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = reply_or_return (source, result, task, "Update2");

  if (!reply)
    return;
  self->anchor_dns = TRUE;
  plain_activate (task);
}

/* Without bind-activation: the anchor itself carries the DNS settings. Re-activating
 * an anchor that only held the veth pair opens no leak: it steered nothing. */
static void
plain_activate (GTask *task)
{
  DdrSteerNm *self = g_task_get_source_object (task);

  if (!self->anchor_dns)
    call (task, self->profile, CONNECTION_IFACE, "Update2",
          g_variant_new ("(@a{sa{sv}}u@a{sv})", ddr_steer_nm_anchor_settings (self->link, TRUE),
                         UPDATE_IN_MEMORY, g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0)),
          "(a{sv})", updated_cb);
  else
    call (task, NM_PATH, NM_IFACE, "ActivateConnection",
          g_variant_new ("(ooo)", self->profile, "/", "/"), "(o)", switched_cb);
}

/* Never re-activate an active steering profile: that opens a 10-25 ms leak
 * (steer.md §1.4). Off deactivates everything of ours that is active. */
static void
switch_state (GTask *task)
{
  DdrSteerNm *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);

  if (op->on)
    {
      if (self->bound || (self->active && self->anchor_dns))
        finish (task, NULL);
      else if (self->bind != BIND_YES)
        plain_activate (task);
      else if (self->link == DDR_STEER_LINK_VETH && !self->active && self->anchor_dns)
        /* The last steering took the plain path (a refused bound activation): the
         * anchor gives its DNS settings back before it holds the link again. */
        call (task, self->profile, CONNECTION_IFACE, "Update2",
              g_variant_new ("(@a{sa{sv}}u@a{sv})",
                             ddr_steer_nm_anchor_settings (self->link, FALSE), UPDATE_IN_MEMORY,
                             g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0)),
              "(a{sv})", unsteered_cb);
      else if (self->link == DDR_STEER_LINK_VETH && !self->active)
        /* AddAndActivateConnection2 cannot create a veth pair (steer.md §2.4): the
         * anchor, with no DNS of its own, creates it; the bound profile takes it over. */
        call (task, NM_PATH, NM_IFACE, "ActivateConnection",
              g_variant_new ("(ooo)", self->profile, "/", "/"), "(o)", switched_cb);
      else
        ddr_steer_nm_bind_async (self->bus, self->link, g_task_get_cancellable (task), bound_cb,
                                 task);
    }
  else if (self->bound || self->active)
    call (task, NM_PATH, NM_IFACE, "DeactivateConnection",
          g_variant_new ("(o)", self->bound ? self->bound : self->active), "()", switched_cb);
  else
    finish (task, NULL);
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
  const char *uuid = NULL;
  guint32 state = 0;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      finish (task, g_steal_pointer (&error));
      return;
    }
  /* An active connection that vanished meanwhile is simply not ours. */
  if (reply)
    {
      g_variant_get (reply, "(@a{sv})", &props);
      g_variant_lookup (props, "Uuid", "&s", &uuid);
      g_variant_lookup (props, "State", "u", &state);
      /* UNKNOWN too: an activation NM has just accepted has not reached ACTIVATING
       * yet (seen under load); taking it for "off" activated the veth anchor again
       * over it, which NM refused. */
      if (state == AC_UNKNOWN || state == AC_ACTIVATING || state == AC_ACTIVATED)
        {
          char **slot = g_strcmp0 (uuid, DDR_STEER_NM_UUID) == 0 ? &self->active
                        : g_strcmp0 (uuid, DDR_STEER_NM_BOUND_UUID) == 0 ? &self->bound : NULL;

          if (slot)
            {
              g_free (*slot);
              *slot = g_strdup (op->paths[op->i]);
            }
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
  g_clear_pointer (&self->bound, g_free);
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

/* With bind-activation a veth anchor must not steer (it is active next to nothing
 * only while it creates the pair); a dummy anchor stays inactive, so it may. */
static void
add_profile (GTask *task)
{
  DdrSteerNm *self = g_task_get_source_object (task);

  self->anchor_dns = self->link == DDR_STEER_LINK_DUMMY || self->bind != BIND_YES;
  call (task, SETTINGS_PATH, SETTINGS_IFACE, "AddConnection2",
        g_variant_new ("(@a{sa{sv}}u@a{sv})",
                       ddr_steer_nm_anchor_settings (self->link, self->anchor_dns), ADD_FLAGS,
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
      finish (task, g_steal_pointer (&error));
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
probed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DdrSteerNm *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  const char *xml = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      finish (task, g_steal_pointer (&error));
      return;
    }
  if (reply)
    g_variant_get (reply, "(&s)", &xml);
  self->bind = xml && strstr (xml, "\"AddAndActivateConnection2\"") ? BIND_YES : BIND_NO;
  if (self->bind == BIND_NO)
    g_message ("NetworkManager has no AddAndActivateConnection2 (%s): the profile %s is "
               "activated without bind-activation", error ? error->message : "not offered",
               DDR_STEER_NM_ID);
  prepare (task);
}

/* Before on: know whether bind-activation is offered (it decides the anchor's
 * settings), then have the anchor. */
static void
prepare (GTask *task)
{
  DdrSteerNm *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);

  if (self->bind == BIND_UNKNOWN)
    call (task, NM_PATH, "org.freedesktop.DBus.Introspectable", "Introspect", NULL, "(s)",
          probed_cb);
  else if (self->profile)
    scan_active (task);
  else if (op->absent)
    add_profile (task);
  else
    call (task, SETTINGS_PATH, SETTINGS_IFACE, "GetConnectionByUuid",
          g_variant_new ("(s)", DDR_STEER_NM_UUID), "(o)", by_uuid_cb);
}

static void
stale_removed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DdrSteerNm *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  GError *error = NULL;

  if (!ddr_steer_nm_remove_stale_finish (result, &error))
    {
      finish (task, error);
      return;
    }
  self->cleaned = TRUE;
  g_clear_pointer (&self->profile, g_free);
  g_clear_pointer (&self->active, g_free);
  g_clear_pointer (&self->bound, g_free);
  op->absent = TRUE;
  if (op->on)
    prepare (task);
  else
    switch_state (task);
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
  self->busy = TRUE;
  op->on = on;
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  if (!self->cleaned)
    ddr_steer_nm_remove_stale_async (self->bus, cancellable, stale_removed_cb, task);
  else if (on)
    prepare (task);
  else
    scan_active (task);
}

static void
ddr_steer_nm_dispose (GObject *object)
{
  DdrSteerNm *self = DDR_STEER_NM (object);

  ddr_steer_nm_unwatch (self);
  g_clear_object (&self->bus);
  g_clear_pointer (&self->profile, g_free);
  g_clear_pointer (&self->active, g_free);
  g_clear_pointer (&self->bound, g_free);
  g_clear_pointer (&self->first_refusal, g_free);
  G_OBJECT_CLASS (ddr_steer_nm_parent_class)->dispose (object);
}

static void
nm_mark_undone (DdrSteerBackend *backend)
{
  DDR_STEER_NM (backend)->reload_rc = TRUE;
}

static void
ddr_steer_nm_class_init (DdrSteerNmClass *klass)
{
  DdrSteerBackendClass *backend_class = DDR_STEER_BACKEND_CLASS (klass);

  backend_class->mark_undone = nm_mark_undone;
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
  self->anchor_dns = link == DDR_STEER_LINK_DUMMY;
  ddr_steer_nm_watch (self);
  return DDR_STEER_BACKEND (self);
}
