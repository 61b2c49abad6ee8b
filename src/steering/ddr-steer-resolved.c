/* The resolved backend: an owned link ddr0 whose DNS in systemd-resolved is the relay, with ~.;
 * a revert of it or a restart of resolved is reported as a loss. */
#define G_LOG_DOMAIN "ddr-steer"

#include <net/if.h>
#include <glib/gi18n-lib.h>

#include "ddr-steer-private.h"

#define RESOLVED_PATH   "/org/freedesktop/resolve1"
#define RESOLVED_IFACE  "org.freedesktop.resolve1.Manager"
#define GROUP           "resolved"

struct _DdrSteerResolved {
  DdrSteerBackend parent;
  GDBusConnection *bus;
  char *state_dir;
  DdrSteerLinkType link;
  gboolean on;
  gboolean lost;        /* resolved left the bus: its per-link state is gone */
  gboolean steered;     /* our settings are on the link: their disappearance is a loss */
  guint busy;           /* set calls running: what resolved does meanwhile is ours */
  guint watch_id;
  guint changed_id;     /* resolved's PropertiesChanged */
  guint link_watch_id;  /* ddr0's deletion, while steered */
  GCancellable *verify; /* the look at the link that a change started */
};

G_DEFINE_FINAL_TYPE (DdrSteerResolved, ddr_steer_resolved, DDR_TYPE_STEER_BACKEND)

/* SetLinkDNS, SetLinkDomains(~.), SetLinkDefaultRoute, no LLMNR nor mDNS, FlushCaches: sent
 * back to back on one connection, so resolved sees them in order and no later RevertLink can
 * overtake. ddr0 answers no multicast name: resolved would otherwise send every single-label
 * name to LLMNR on it too, ~3 s of waiting per failing local lookup (issue 12.9). */
static void
send_steering (DdrSteerResolved *self, int ifindex, GCancellable *cancellable,
               GAsyncReadyCallback cb, gpointer user_data)
{
  static const guint8 lo[4] = { 127, 0, 0, 1 };
  GVariantBuilder dns, domains;

  g_variant_builder_init (&dns, G_VARIANT_TYPE ("a(iay)"));
  g_variant_builder_add (&dns, "(i@ay)", AF_INET,
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, lo, sizeof lo, 1));
  g_variant_builder_init (&domains, G_VARIANT_TYPE ("a(sb)"));
  g_variant_builder_add (&domains, "(sb)", ".", TRUE);
  g_dbus_connection_call (self->bus, DDR_RESOLVED_BUS_NAME, RESOLVED_PATH, RESOLVED_IFACE,
                          "SetLinkDNS", g_variant_new ("(ia(iay))", ifindex, &dns), NULL,
                          G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, cancellable, cb, user_data);
  g_dbus_connection_call (self->bus, DDR_RESOLVED_BUS_NAME, RESOLVED_PATH, RESOLVED_IFACE,
                          "SetLinkDomains", g_variant_new ("(ia(sb))", ifindex, &domains), NULL,
                          G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, cancellable, cb, user_data);
  g_dbus_connection_call (self->bus, DDR_RESOLVED_BUS_NAME, RESOLVED_PATH, RESOLVED_IFACE,
                          "SetLinkDefaultRoute", g_variant_new ("(ib)", ifindex, TRUE), NULL,
                          G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, cancellable, cb, user_data);
  g_dbus_connection_call (self->bus, DDR_RESOLVED_BUS_NAME, RESOLVED_PATH, RESOLVED_IFACE,
                          "SetLinkLLMNR", g_variant_new ("(is)", ifindex, "no"), NULL,
                          G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, cancellable, cb, user_data);
  g_dbus_connection_call (self->bus, DDR_RESOLVED_BUS_NAME, RESOLVED_PATH, RESOLVED_IFACE,
                          "SetLinkMulticastDNS", g_variant_new ("(is)", ifindex, "no"), NULL,
                          G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, cancellable, cb, user_data);
  g_dbus_connection_call (self->bus, DDR_RESOLVED_BUS_NAME, RESOLVED_PATH, RESOLVED_IFACE,
                          "FlushCaches", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                          cancellable, cb, user_data);
}
#define STEERING_CALLS 6
/* resolved learns of a new link from rtnetlink, a moment after `ip link add`: until
 * then it answers NoSuchLink. Retry for up to 5 s. */
#define NO_SUCH_LINK    "org.freedesktop.resolve1.NoSuchLink"
#define LINK_RETRY_MS   100
#define LINK_RETRIES    50

typedef struct {
  int ifindex;          /* > 0: the steering calls, retried while the link is unknown */
  guint outstanding;
  guint attempts;
  gboolean no_such_link;
  GError *error;
} Batch;

static void
batch_free (Batch *b)
{
  g_clear_error (&b->error);
  g_free (b);
}

static void batch_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static gboolean
retry_steering (gpointer user_data)
{
  GTask *task = user_data;
  Batch *b = g_task_get_task_data (task);

  if (g_task_return_error_if_cancelled (task))
    g_object_unref (task);
  else
    send_steering (g_task_get_source_object (task), b->ifindex, g_task_get_cancellable (task),
                   batch_cb, task);
  return G_SOURCE_REMOVE;
}

static void
batch_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Batch *b = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  g_autofree char *remote = error ? g_dbus_error_get_remote_error (error) : NULL;

  if (g_strcmp0 (remote, NO_SUCH_LINK) == 0)
    b->no_such_link = TRUE;
  if (!reply && !b->error)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_dbus_error_strip_remote_error (error);
          g_prefix_error (&error, "systemd-resolved: ");
        }
      b->error = error;
    }
  else if (!reply)
    g_error_free (error);
  if (--b->outstanding > 0)
    return;
  if (b->error && b->no_such_link && b->ifindex <= 0)
    g_clear_error (&b->error);   /* RevertLink: a link resolved does not know has nothing set */
  if (b->error && b->no_such_link && b->attempts < LINK_RETRIES)
    {
      g_debug ("systemd-resolved does not know link %d yet; retrying", b->ifindex);
      g_clear_error (&b->error);
      b->no_such_link = FALSE;
      b->attempts++;
      b->outstanding = STEERING_CALLS;
      g_timeout_add (LINK_RETRY_MS, retry_steering, task);
      return;
    }
  if (b->error)
    g_task_return_error (task, g_steal_pointer (&b->error));
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
reapplied_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (!reply)
    g_warning ("Could not re-apply DNS steering after systemd-resolved restarted: %s",
               error->message);
}

/* resolved keeps per-link settings only in memory: put ours back after a restart. */
static void
resolved_appeared (GDBusConnection *bus, const char *name, const char *owner, gpointer user_data)
{
  DdrSteerResolved *self = user_data;
  unsigned ifindex = if_nametoindex (DDR_STEER_IFACE);

  if (self->lost && self->on && ifindex)
    {
      g_info ("systemd-resolved is back; re-applying DNS steering on %s", DDR_STEER_IFACE);
      send_steering (self, (int) ifindex, NULL, reapplied_cb, NULL);
    }
  self->lost = FALSE;
}

static void
resolved_vanished (GDBusConnection *bus, const char *name, gpointer user_data)
{
  DdrSteerResolved *self = user_data;

  self->lost = TRUE;
  if (self->steered && !self->busy)
    {
      self->steered = FALSE;
      ddr_steer_backend_report_lost (DDR_STEER_BACKEND (self),
                                     "systemd-resolved stopped (it forgets per-link settings)");
    }
}

/* Are our server and ~. still on ddr0? From the manager's DNS (a(iiay)) and Domains
 * (a(isb)), which list every link's settings with its index. */
static gboolean
link_still_steered (GVariant *props, int ifindex)
{
  g_autoptr(GVariant) dns = g_variant_lookup_value (props, "DNS", G_VARIANT_TYPE ("a(iiay)"));
  g_autoptr(GVariant) domains = g_variant_lookup_value (props, "Domains",
                                                        G_VARIANT_TYPE ("a(isb)"));
  gboolean have_dns = FALSE, have_route = FALSE;
  GVariantIter iter;
  GVariant *addr;
  const char *name;
  gboolean route_only;
  int index, family;

  if (!dns || !domains)
    return TRUE;   /* an answer we cannot read proves nothing: the canary will */
  g_variant_iter_init (&iter, dns);
  while (g_variant_iter_next (&iter, "(ii@ay)", &index, &family, &addr))
    {
      gsize n = 0;
      const guint8 *a = g_variant_get_fixed_array (addr, &n, 1);

      have_dns |= index == ifindex && family == AF_INET && n == 4 && a[0] == 127 && a[1] == 0 &&
                  a[2] == 0 && a[3] == 1;
      g_variant_unref (addr);
    }
  g_variant_iter_init (&iter, domains);
  while (g_variant_iter_next (&iter, "(i&sb)", &index, &name, &route_only))
    have_route |= index == ifindex && route_only && g_str_equal (name, ".");
  return have_dns && have_route;
}

static void
verified_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  g_autoptr(GVariant) props = NULL;
  DdrSteerResolved *self;
  unsigned ifindex;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = user_data;
  g_clear_object (&self->verify);
  if (!reply || !self->steered || self->busy)
    return;
  g_variant_get (reply, "(@a{sv})", &props);
  ifindex = if_nametoindex (DDR_STEER_IFACE);
  if (!ifindex || !link_still_steered (props, (int) ifindex))
    {
      self->steered = FALSE;
      ddr_steer_backend_report_lost (DDR_STEER_BACKEND (self),
                                     ifindex ? "the DNS settings of " DDR_STEER_IFACE " in "
                                               "systemd-resolved were reverted by someone else"
                                             : "the link " DDR_STEER_IFACE " was deleted");
    }
}

/* resolved announces a change of its DNS configuration (RevertLink sends one): look
 * whether ours is still there. */
static void
resolved_changed (GDBusConnection *bus, const char *sender, const char *path,
                  const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  DdrSteerResolved *self = user_data;

  if (!self->steered || self->busy || self->verify)
    return;
  self->verify = g_cancellable_new ();
  g_dbus_connection_call (self->bus, DDR_RESOLVED_BUS_NAME, RESOLVED_PATH, PROPS_IFACE, "GetAll",
                          g_variant_new ("(s)", RESOLVED_IFACE), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS, self->verify,
                          verified_cb, self);
}

static void
apply (GTask *task, int ifindex)
{
  DdrSteerResolved *self = g_task_get_source_object (task);
  Batch *b = g_new0 (Batch, 1);

  b->ifindex = ifindex;
  b->outstanding = STEERING_CALLS;
  g_task_set_task_data (task, b, (GDestroyNotify) batch_free);
  send_steering (self, ifindex, g_task_get_cancellable (task), batch_cb, task);
}

static void
link_made_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GSubprocess *proc = G_SUBPROCESS (source);
  g_autofree char *err = NULL;
  GError *error = NULL;
  unsigned ifindex;

  if (!g_subprocess_communicate_utf8_finish (proc, result, NULL, &err, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (!g_subprocess_get_successful (proc))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED,
                               "Cannot create the link %s with ip: %s", DDR_STEER_IFACE,
                               err ? g_strstrip (err) : "failed");
      g_object_unref (task);
      return;
    }
  ifindex = if_nametoindex (DDR_STEER_IFACE);
  if (!ifindex)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               "The link %s is missing right after it was created",
                               DDR_STEER_IFACE);
      g_object_unref (task);
      return;
    }
  g_info ("created the link %s (index %u)", DDR_STEER_IFACE, ifindex);
  apply (task, (int) ifindex);
}

/* The record says we made the link before it exists, so a crash right after is undone. */
static void
make_link (GTask *task)
{
  DdrSteerResolved *self = g_task_get_source_object (task);
  g_autoptr(GKeyFile) record = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *script = NULL;
  GError *error = NULL;
  record = ddr_steer_record_load (self->state_dir, &error);
  if (record)
    {
      g_key_file_set_string (record, GROUP, "ifname", DDR_STEER_IFACE);
      g_key_file_set_boolean (record, GROUP, "created", TRUE);
    }
  if (!record || !ddr_steer_record_save (self->state_dir, record, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  script = ddr_steer_link_script (self->link);
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                           &error, ddr_steer_ip_binary (), "-batch", "-", NULL);
  if (!proc)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* communicate also waits for ip to exit */
  g_subprocess_communicate_utf8_async (proc, script, g_task_get_cancellable (task),
                                       link_made_cb, task);
}

static gboolean
link_deleted (gpointer user_data)
{
  DdrSteerResolved *self = user_data;

  self->link_watch_id = 0;
  if (self->steered && !self->busy)
    {
      self->steered = FALSE;
      ddr_steer_backend_report_lost (DDR_STEER_BACKEND (self),
                                     "the link " DDR_STEER_IFACE " was deleted");
    }
  return G_SOURCE_REMOVE;
}

/* Knows when the set call ends (busy, steered), then hands its result on. */
typedef struct {
  GAsyncReadyCallback callback;
  gpointer user_data;
  gboolean on;
} SetCall;

static void
set_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DdrSteerResolved *self = DDR_STEER_RESOLVED (source);
  SetCall *call = user_data;

  self->busy--;
  self->steered = call->on && !g_task_had_error (G_TASK (result));
  g_clear_handle_id (&self->link_watch_id, g_source_remove);
  if (self->steered && if_nametoindex (DDR_STEER_IFACE))
    self->link_watch_id = ddr_steer_link_watch ((int) if_nametoindex (DDR_STEER_IFACE),
                                                link_deleted, self);
  call->callback (source, result, call->user_data);
  g_free (call);
}

static void
resolved_set_async (DdrSteerBackend     *backend,
                    gboolean             on,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  DdrSteerResolved *self = DDR_STEER_RESOLVED (backend);
  SetCall *call = g_new (SetCall, 1);
  GTask *task;
  unsigned ifindex = if_nametoindex (DDR_STEER_IFACE);

  call->callback = callback;
  call->user_data = user_data;
  call->on = on;
  task = g_task_new (self, cancellable, set_done, call);
  g_task_set_source_tag (task, resolved_set_async);
  self->on = on;
  self->busy++;
  self->steered = FALSE;
  if (self->verify)
    g_cancellable_cancel (self->verify);
  g_clear_object (&self->verify);
  if (on && !ifindex)
    make_link (task);
  else if (on)
    apply (task, (int) ifindex);
  else if (ifindex)
    {
      Batch *b = g_new0 (Batch, 1);

      b->outstanding = 1;
      g_task_set_task_data (task, b, (GDestroyNotify) batch_free);
      g_dbus_connection_call (self->bus, DDR_RESOLVED_BUS_NAME, RESOLVED_PATH, RESOLVED_IFACE,
                              "RevertLink", g_variant_new ("(i)", (int) ifindex), NULL,
                              G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, cancellable, batch_cb,
                              task);
    }
  else
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

gboolean
ddr_steer_resolved_restore (GDBusConnection *bus, const char *state_dir, GString *report,
                            GError **error)
{
  g_autoptr(GKeyFile) record = ddr_steer_record_load (state_dir, error);
  g_autoptr(GError) local = NULL;
  gboolean recorded, created;
  unsigned ifindex = if_nametoindex (DDR_STEER_IFACE);

  if (!record)
    return FALSE;
  recorded = g_key_file_has_group (record, GROUP);
  created = g_key_file_get_boolean (record, GROUP, "created", NULL);
  /* Ours by name and address when the record was lost; but while NetworkManager
   * runs, a ddr0 with our address is the NM profile's link (being torn down by
   * the NM restore just before this), not ours to delete. */
  if (ifindex && !recorded && ddr_steer_link_has_our_address ()
      && !ddr_steer_bus_has_owner (bus, DDR_NM_BUS_NAME))
    created = recorded = TRUE;

  if (ifindex && recorded && ddr_steer_bus_has_owner (bus, DDR_RESOLVED_BUS_NAME))
    {
      g_autoptr(GVariant) reply = NULL;
      g_autoptr(GError) revert_error = NULL;
      g_autofree char *remote = NULL;

      reply = g_dbus_connection_call_sync (bus, DDR_RESOLVED_BUS_NAME, RESOLVED_PATH,
                                           RESOLVED_IFACE, "RevertLink",
                                           g_variant_new ("(i)", (int) ifindex), NULL,
                                           G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS,
                                           NULL, &revert_error);
      if (!reply)
        remote = g_dbus_error_get_remote_error (revert_error);
      if (!reply && g_strcmp0 (remote, NO_SUCH_LINK) == 0)
        g_debug ("systemd-resolved does not know %s: nothing to revert", DDR_STEER_IFACE);
      else if (!reply)
        {
          g_dbus_error_strip_remote_error (revert_error);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("Could not revert the DNS settings of %s in systemd-resolved: %s"),
                       DDR_STEER_IFACE, revert_error->message);
          return FALSE;
        }
      else if (report)
        g_string_append_printf (report, _("Reverted the DNS settings of %s in systemd-resolved\n"),
                                DDR_STEER_IFACE);
    }
  if (ifindex && created)
    {
      if (!ddr_steer_link_delete (&local))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Could not delete the link %s: %s"),
                       DDR_STEER_IFACE, local->message);
          return FALSE;
        }
      g_info ("deleted the link %s", DDR_STEER_IFACE);
      if (report)
        g_string_append_printf (report, _("Deleted the link %s\n"), DDR_STEER_IFACE);
    }
  if (!g_key_file_has_group (record, GROUP))
    return TRUE;
  g_key_file_remove_group (record, GROUP, NULL);
  return ddr_steer_record_save (state_dir, record, error);
}

static void
ddr_steer_resolved_dispose (GObject *object)
{
  DdrSteerResolved *self = DDR_STEER_RESOLVED (object);

  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  g_clear_handle_id (&self->link_watch_id, g_source_remove);
  if (self->changed_id)
    g_dbus_connection_signal_unsubscribe (self->bus, self->changed_id);
  self->changed_id = 0;
  if (self->verify)
    g_cancellable_cancel (self->verify);
  g_clear_object (&self->verify);
  g_clear_object (&self->bus);
  g_clear_pointer (&self->state_dir, g_free);
  G_OBJECT_CLASS (ddr_steer_resolved_parent_class)->dispose (object);
}

static void
ddr_steer_resolved_class_init (DdrSteerResolvedClass *klass)
{
  DdrSteerBackendClass *backend_class = DDR_STEER_BACKEND_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = ddr_steer_resolved_dispose;
  backend_class->name = "resolved";
  backend_class->set_async = resolved_set_async;
}

static void
ddr_steer_resolved_init (DdrSteerResolved *self)
{
}

DdrSteerBackend *
ddr_steer_resolved_new (GDBusConnection *bus, const char *state_dir, DdrSteerLinkType link)
{
  DdrSteerResolved *self = g_object_new (DDR_TYPE_STEER_RESOLVED, NULL);

  self->bus = g_object_ref (bus);
  self->state_dir = g_strdup (state_dir);
  self->link = link;
  self->watch_id = g_bus_watch_name_on_connection (bus, DDR_RESOLVED_BUS_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   resolved_appeared, resolved_vanished,
                                                   self, NULL);
  self->changed_id = g_dbus_connection_signal_subscribe (bus, DDR_RESOLVED_BUS_NAME, PROPS_IFACE,
                                                         "PropertiesChanged", RESOLVED_PATH,
                                                         NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                         resolved_changed, self, NULL);
  return DDR_STEER_BACKEND (self);
}
