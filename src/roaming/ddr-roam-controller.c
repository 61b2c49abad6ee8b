/* The roaming controller: follows the network, runs the checks, steers system DNS. */
#define G_LOG_DOMAIN "ddr-roaming"

#include "config.h"

#include <string.h>

#include "ddr-roam-private.h"
#include "ddr-roam-routes.h"

#define DEFAULT_MINUTE_MS 60000

void
ddr_roam_config_clear (DdrRoamConfig *c)
{
  g_clear_pointer (&c->enabled, g_free);
  g_clear_pointer (&c->dns_backend, g_free);
  g_clear_pointer (&c->portal_probe_url, g_free);
  g_clear_pointer (&c->trusted_networks, g_strfreev);
  g_clear_pointer (&c->local_domains, g_strfreev);
  g_clear_pointer (&c->check_name, g_free);
}

static void
config_copy (DdrRoamConfig *to, const DdrRoamConfig *from)
{
  ddr_roam_config_clear (to);
  to->enabled = g_strdup (from->enabled ? from->enabled : "auto");
  to->dns_backend = g_strdup (from->dns_backend ? from->dns_backend : "auto");
  to->portal_probe_url = g_strdup (from->portal_probe_url);
  to->trusted_networks = g_strdupv (from->trusted_networks);
  to->trust_protected = from->trust_protected;
  to->local_domains = g_strdupv (from->local_domains);
  to->block = from->block;
  to->check_name = g_strdup (from->check_name);
}

void
ddr_roam_set_error (DdrRoamController *self, const char *message)
{
  if (message && g_strcmp0 (message, self->last_error) != 0)
    g_warning ("%s", message);
  g_free (self->last_error);
  self->last_error = g_strdup (message ? message : "");
}

/* ---- publishing ---- */

static void
publish (DdrRoamController *self)
{
  const DdrNetSnapshot *s = self->snapshot;
  g_autofree char *reason = NULL;
  DdrRoamStatus status = { 0 };

  reason = ddr_roam_reason (&self->facts, self->state,
                            s && s->have_primary ? s->primary.id : NULL);
  status.state = self->state;
  status.reason = reason;
  status.protected = self->state == DDR_ROAM_PROTECTED;
  status.network = s && s->have_primary && s->primary.id ? s->primary.id : "";
  /* Also while protected despite the portal: a tray can still offer "log in". */
  status.portal_url = (self->state == DDR_ROAM_PORTAL || self->facts.portal_seen) &&
                      self->portal_url ? self->portal_url : "";
  status.service_reachable = self->facts.service == DDR_CHECK_OK;
  status.paused_until = self->facts.paused ? self->paused_until : 0;
  status.dns_backend = self->steer ? ddr_steer_get_backend (self->steer) : "none";
  status.last_error = self->last_error ? self->last_error : "";
  self->publish (&status, self->publish_data);
}

/* The one place the state changes: decide from the facts, steer, publish. */
void
ddr_roam_update (DdrRoamController *self)
{
  DdrRoamDecision d = ddr_roam_decide (&self->facts);

  /* Steering without a backend fails at once and changes the facts: decide again. */
  if (ddr_roam_steer_toward (self, d.steer))
    d = ddr_roam_decide (&self->facts);
  if (d.state != self->state)
    {
      /* The transition itself is logged once, where it is published (ddr-manager.c). */
      g_debug ("%s after %" G_GINT64_FORMAT " ms since the last network event",
               ddr_roam_state_to_string (d.state),
               (g_get_monotonic_time () - self->changed_us) / 1000);
      self->state = d.state;
    }
  ddr_roam_steer_follow_state (self);
  publish (self);
}

/* ---- the network ---- */

static gboolean
is_trusted (const DdrRoamController *self, const DdrNetSnapshot *s)
{
  char **list = self->config.trusted_networks;

  if (!s->have_primary || !list)
    return FALSE;
  return (s->primary.uuid && g_strv_contains ((const char *const *) list, s->primary.uuid)) ||
         (s->primary.id && g_strv_contains ((const char *const *) list, s->primary.id));
}

static char *
host_of (const char *url)
{
  g_autoptr(GUri) uri = url && *url ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;

  return uri && g_uri_get_host (uri) ? g_strdup (g_uri_get_host (uri)) : NULL;
}

void
ddr_roam_apply_routes (DdrRoamController *self)
{
  const DdrNetSnapshot *s = self->snapshot;
  g_autofree char *probe_host = host_of (self->config.portal_probe_url);
  g_autofree char *portal_host = host_of (self->portal_url);
  /* Configured hosts (NM's check URI, ours) with what is under them; the name the
   * network chose (a redirect's host - it could be "com") only as itself. */
  const char *hosts[] = { s ? s->check_host : NULL, probe_host, NULL };
  const char *compact[G_N_ELEMENTS (hosts)] = { NULL };
  g_autoptr(GPtrArray) routes = NULL;
  g_autofree DdrLocalRoute *table = NULL;
  guint n = 0;

  for (guint i = 0; i < G_N_ELEMENTS (hosts); i++)
    if (hosts[i])
      compact[n++] = hosts[i];
  /* The portal's own host only while our probe sees it (DESIGN, Hostile input). */
  routes = ddr_roam_routes_build (s, (const char *const *) self->config.local_domains, compact,
                                  self->facts.portal_seen ? portal_host : NULL,
                                  s && is_trusted (self, s));
  table = g_new0 (DdrLocalRoute, routes->len + 1);
  for (guint i = 0; i < routes->len; i++)
    {
      DdrRoamRoute *r = routes->pdata[i];
      table[i].domain = r->domain;
      table[i].servers = (const char *const *) r->servers;
      table[i].exact = r->exact;
      table[i].untrusted = r->untrusted;
    }
  ddr_relay_set_local_routes (self->relay, table, routes->len);
  g_debug ("%u split-DNS routes", routes->len);
}

/* What makes a network new: NM's presence, the primary connection's UUID and device
 * (DESIGN: the same network while both stay), and connectivity only as "none or not".
 * Another server list (a late IPv6 list, a DHCP renewal) or another connectivity of
 * the same network is looked at again while the current steering stays. */
static char *
network_key (const DdrNetSnapshot *s)
{
  return g_strdup_printf ("%d|%d|%s|%s|%d", s->nm_running, s->have_primary,
                          s->have_primary && s->primary.uuid ? s->primary.uuid : "",
                          s->have_primary && s->primary_iface ? s->primary_iface : "",
                          s->connectivity == DDR_CONNECTIVITY_NONE);
}

static gboolean
same_servers (const DdrNetSnapshot *a, const DdrNetSnapshot *b)
{
  const char *const none[] = { NULL };
  const char *const *x = a->have_primary && a->primary.servers
                         ? (const char *const *) a->primary.servers : none;
  const char *const *y = b->have_primary && b->primary.servers
                         ? (const char *const *) b->primary.servers : none;

  return g_strv_equal (x, y);
}

/* Steering through NetworkManager: its absence is a restart to wait out, not a
 * reason to stop roaming. */
static gboolean
steers_through_nm (const DdrRoamController *self)
{
  return self->steer && g_str_equal (ddr_steer_get_backend (self->steer), "networkmanager");
}

static gboolean
roaming_on (const DdrRoamController *self, const DdrNetSnapshot *s)
{
  if (g_str_equal (self->config.enabled, "false"))
    return FALSE;
  return g_str_equal (self->config.enabled, "true") || s->nm_running || steers_through_nm (self);
}

static void
ensure_steer (DdrRoamController *self)
{
  g_autoptr(GError) error = NULL;

  if (self->steer || !self->facts.roaming)
    return;
  self->steer = ddr_steer_new (self->config.dns_backend, self->bus, self->root, self->state_dir,
                               &error);
  /* ddr_steer_new logs which backend it chose. */
  if (!self->steer)
    ddr_roam_set_error (self, error->message);
  else
    g_signal_connect (self->steer, "lost", G_CALLBACK (ddr_roam_on_steering_lost), self);
}

/* A new network: forget every check result. */
static void
new_network (DdrRoamController *self)
{
  self->changed_us = g_get_monotonic_time ();
  ddr_relay_network_changed (self->relay);
  g_clear_pointer (&self->portal_url, g_free);
  ddr_roam_checks_start (self);
  ddr_roam_steer_retry_now (self);
}

static void
on_network_changed (DdrNmMonitor *monitor, gpointer user_data)
{
  DdrRoamController *self = user_data;
  DdrNetSnapshot *s = ddr_nm_monitor_snapshot (monitor);
  g_autofree char *key = network_key (s);
  gboolean fresh = g_strcmp0 (key, self->network_key) != 0;
  gboolean moved = self->snapshot && s->connectivity != self->snapshot->connectivity;
  gboolean renumbered = self->snapshot && !same_servers (s, self->snapshot);

  g_clear_pointer (&self->snapshot, ddr_net_snapshot_free);
  self->snapshot = s;
  g_free (self->network_key);
  self->network_key = g_steal_pointer (&key);

  self->facts.ready = TRUE;
  self->facts.roaming = roaming_on (self, s);
  self->facts.nm_lost = !s->nm_running && steers_through_nm (self);
  if (self->facts.nm_lost)
    self->nm_away = TRUE;    /* until a steering call goes through again */
  self->facts.have_network = s->nm_running ? s->have_primary : TRUE;
  self->facts.connectivity = s->nm_running ? s->connectivity : DDR_CONNECTIVITY_UNKNOWN;
  self->facts.trusted_network = is_trusted (self, s);
  ensure_steer (self);
  if (!self->facts.roaming)
    ddr_roam_checks_reset (self);
  else if (fresh)
    {
      g_info ("network: %s, connectivity %u", s->have_primary ? s->primary.id : "(none)",
              s->connectivity);
      new_network (self);
    }
  else if (moved || renumbered)
    {
      if (renumbered)
        g_info ("network %s: its DNS servers changed; checking again, steering kept",
                s->have_primary && s->primary.id ? s->primary.id : "(none)");
      self->changed_us = g_get_monotonic_time ();
      ddr_roam_checks_reprobe (self);
    }
  ddr_roam_apply_routes (self);
  ddr_roam_update (self);
}

/* ---- suspend ---- */

static void
on_prepare_for_sleep (GDBusConnection *bus, const char *sender, const char *path,
                      const char *iface, const char *signal, GVariant *parameters,
                      gpointer user_data)
{
  DdrRoamController *self = user_data;
  gboolean going_down = FALSE;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(b)")))
    return;
  g_variant_get (parameters, "(b)", &going_down);
  if (going_down || !self->facts.roaming)
    return;
  /* NetworkManager tells us if the network changed meanwhile; for the same one the
   * steering stays while it is looked at again (a resume un-steered for seconds). */
  g_info ("resumed from suspend: dropping upstream connections and checking the network "
          "again, steering kept");
  ddr_roam_pause_rearm (self);
  self->changed_us = g_get_monotonic_time ();
  ddr_relay_network_changed (self->relay);
  ddr_roam_checks_reprobe (self);
  ddr_roam_steer_retry_now (self);
  ddr_roam_update (self);
}

/* ---- lifecycle ---- */

static guint
minute_ms (void)
{
  const char *env = g_getenv ("THREATSTOP_DDR_MINUTE_MS");
  guint64 v = 0;

  if (env && g_ascii_string_to_unsigned (env, 10, 1, 3600000, &v, NULL))
    return (guint) v;
  return DEFAULT_MINUTE_MS;
}

DdrRoamController *
ddr_roam_controller_new (DdrRelay *relay, const DdrRoamConfig *config, const char *state_dir,
                         DdrRoamPublish publish_cb, gpointer user_data)
{
  DdrRoamController *self = g_new0 (DdrRoamController, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) report = g_string_new (NULL);
  const char *root = g_getenv ("THREATSTOP_DDR_ROOT");

  self->relay = relay;
  config_copy (&self->config, config);
  self->state_dir = g_strdup (state_dir);
  self->root = g_strdup (root ? root : "");
  self->publish = publish_cb;
  self->publish_data = user_data;
  self->cancellable = g_cancellable_new ();
  self->minute_ms = minute_ms ();
  self->changed_us = g_get_monotonic_time ();
  self->state = DDR_ROAM_STARTING;
  self->facts.roaming = !g_str_equal (self->config.enabled, "false");
  self->facts.block = self->config.block;
  self->facts.trust_protected = self->config.trust_protected;

  self->bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (!self->bus)
    g_info ("roaming: no system bus (%s); NetworkManager cannot be followed", error->message);
  g_clear_error (&error);

  /* A crash may have left the system pointing at a relay that was not running. */
  if (!ddr_steer_restore_all (self->bus, self->root, self->state_dir, report, &error))
    ddr_roam_set_error (self, error->message);
  if (report->len > 0)
    g_message ("removed stale DNS steering: %s", report->str);

  ddr_relay_set_health_callback (relay, ddr_roam_on_health, self);
  if (self->bus)
    self->sleep_watch = g_dbus_connection_signal_subscribe (
      self->bus, "org.freedesktop.login1", "org.freedesktop.login1.Manager", "PrepareForSleep",
      "/org/freedesktop/login1", NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_prepare_for_sleep, self, NULL);
  self->monitor = ddr_nm_monitor_new ();
  g_signal_connect (self->monitor, "changed", G_CALLBACK (on_network_changed), self);
  ddr_roam_update (self);
  return self;
}

void
ddr_roam_controller_free (DdrRoamController *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) report = g_string_new (NULL);

  if (!self)
    return;
  g_cancellable_cancel (self->cancellable);
  ddr_roam_checks_reset (self);
  g_clear_handle_id (&self->pause_id, g_source_remove);
  g_clear_handle_id (&self->steer_retry_id, g_source_remove);
  g_clear_handle_id (&self->reproof_id, g_source_remove);
  ddr_steer_unwatch_resolv_conf (&self->rc_monitor);
  if (self->steer)
    g_signal_handlers_disconnect_by_data (self->steer, self);
  ddr_relay_set_health_callback (self->relay, NULL, NULL);
  ddr_relay_expect_canary (self->relay, NULL, NULL, NULL);
  ddr_relay_set_local_routes (self->relay, NULL, 0);
  if (self->monitor)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_clear_object (&self->monitor);
  if (self->bus && self->sleep_watch)
    g_dbus_connection_signal_unsubscribe (self->bus, self->sleep_watch);

  /* Never leave the system pointing at a relay that is going away. */
  if (self->steer &&
      !ddr_steer_restore_all (self->bus, self->root, self->state_dir, report, &error))
    g_warning ("could not restore the system DNS: %s", error->message);
  else if (report->len > 0)
    g_message ("system DNS restored: %s", report->str);

  g_clear_object (&self->steer);
  g_clear_object (&self->bus);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->snapshot, ddr_net_snapshot_free);
  ddr_roam_config_clear (&self->config);
  g_free (self->network_key);
  g_free (self->portal_url);
  g_free (self->last_error);
  g_free (self->state_dir);
  g_free (self->root);
  g_free (self);
}

void
ddr_roam_controller_reconfigure (DdrRoamController *self, const DdrRoamConfig *config)
{
  g_autofree char *enabled = g_strdup (self->config.enabled);
  g_autofree char *backend = g_strdup (self->config.dns_backend);

  if (g_strcmp0 (config->enabled, enabled) != 0 || g_strcmp0 (config->dns_backend, backend) != 0)
    g_warning ("roaming: a change of [roaming] enabled or dns-backend takes effect at restart");
  config_copy (&self->config, config);
  /* Those two stay as the daemon started with them. */
  g_free (self->config.enabled);
  g_free (self->config.dns_backend);
  self->config.enabled = g_steal_pointer (&enabled);
  self->config.dns_backend = g_steal_pointer (&backend);

  self->facts.block = self->config.block;
  self->facts.trust_protected = self->config.trust_protected;
  if (self->snapshot)
    self->facts.trusted_network = is_trusted (self, self->snapshot);
  ddr_roam_apply_routes (self);
  ddr_roam_checks_reprobe (self);
  ddr_roam_update (self);
}

void
ddr_roam_controller_network_event (DdrRoamController *self, const char *action)
{
  self->changed_us = g_get_monotonic_time ();
  /* libnm reports the same change; this is the backstop when a signal is missed. */
  ddr_roam_checks_reprobe (self);
  ddr_roam_steer_retry_now (self);
  ddr_roam_update (self);
}

void
ddr_roam_controller_reprobe (DdrRoamController *self)
{
  self->changed_us = g_get_monotonic_time ();
  ddr_roam_checks_reprobe (self);
  ddr_roam_update (self);
}

/* ---- pause ---- */

static gboolean
on_pause_over (gpointer user_data)
{
  DdrRoamController *self = user_data;

  self->pause_id = 0;
  g_message ("pause over: protection resumes");
  ddr_roam_controller_resume (self, NULL);
  return G_SOURCE_REMOVE;
}

/* The monotonic clock stops during suspend: after a resume the timer is armed again
 * for what is left of the wall-clock pause. */
static void
arm_pause_timer (DdrRoamController *self, guint64 ms)
{
  g_clear_handle_id (&self->pause_id, g_source_remove);
  self->pause_id = ms % 1000 == 0 || ms > G_MAXUINT
                   ? g_timeout_add_seconds ((guint) MIN (ms / 1000, G_MAXUINT), on_pause_over, self)
                   : g_timeout_add ((guint) ms, on_pause_over, self);
}

void
ddr_roam_pause_rearm (DdrRoamController *self)
{
  gint64 now_ms = g_get_real_time () / 1000;

  if (!self->facts.paused || self->paused_until == G_MAXUINT64)
    return;
  if ((gint64) self->paused_until * 1000 <= now_ms)
    ddr_roam_controller_resume (self, NULL);
  else
    arm_pause_timer (self, (guint64) ((gint64) self->paused_until * 1000 - now_ms));
}

gboolean
ddr_roam_controller_pause (DdrRoamController *self, guint minutes, GError **error)
{
  guint64 ms = (guint64) minutes * self->minute_ms;

  g_clear_handle_id (&self->pause_id, g_source_remove);
  self->facts.paused = TRUE;
  ddr_roam_checks_hold (self);
  /* DESIGN: PausedUntil 0 = not paused, G_MAXUINT64 = until Resume(). */
  self->paused_until = minutes ? (guint64) (g_get_real_time () / 1000 + ms) / 1000 : G_MAXUINT64;
  if (minutes)
    {
      g_autoptr(GDateTime) until = g_date_time_new_from_unix_local ((gint64) self->paused_until);
      g_autofree char *text = until ? g_date_time_format (until, "%Y-%m-%d %H:%M:%S") : NULL;

      arm_pause_timer (self, ms);
      g_message ("protection paused for %u minute%s, until %s", minutes, minutes == 1 ? "" : "s",
                 text ? text : "?");
    }
  else
    g_message ("protection paused until resumed");
  self->changed_us = g_get_monotonic_time ();
  ddr_roam_update (self);
  return TRUE;
}

gboolean
ddr_roam_controller_resume (DdrRoamController *self, GError **error)
{
  if (!self->facts.paused)
    return TRUE;
  g_clear_handle_id (&self->pause_id, g_source_remove);
  self->facts.paused = FALSE;
  self->paused_until = 0;
  g_message ("protection resumed");
  self->changed_us = g_get_monotonic_time ();
  ddr_roam_checks_reprobe (self);
  ddr_roam_update (self);
  return TRUE;
}
