/* The roaming checks: the DoH service probe and our own portal probe (each looked
 * at again on the re-probe schedule), the trust-protected comparison, and the
 * steering canary. */
#define G_LOG_DOMAIN "ddr-roaming"

#include "config.h"

#include "ddr-dns-udp-client.h"
#include "ddr-roam-private.h"
#include "ddr-roam-schedule.h"

#define PORTAL_TIMEOUT_MS      5000
#define TRUST_TIMEOUT_MS       3000

/* Waits before each canary attempt: resolv.conf and resolved follow a steering
 * change a few ms after NetworkManager's D-Bus call returns (research/steer.md). */
static const guint canary_delays_ms[] = { 0, 50, 200, 500, 1000, 2000 };

/* One async check. The cancellable is this network's: when it is cancelled the
 * controller may be gone, so the callback must not touch it. */
typedef struct {
  DdrRoamController *self;
  DdrRelay          *relay;         /* outlives every probe: it completes them first */
  GCancellable      *cancellable;
  guint              gen;           /* canary lookups: the proof they belong to */
} Call;

static Call *
call_new (DdrRoamController *self)
{
  Call *c = g_new (Call, 1);

  c->self = self;
  c->relay = self->relay;
  c->cancellable = g_object_ref (self->checks);
  c->gen = 0;
  return c;
}

static DdrRoamController *
call_end (Call *c)
{
  DdrRoamController *self = g_cancellable_is_cancelled (c->cancellable) ? NULL : c->self;

  g_object_unref (c->cancellable);
  g_free (c);
  return self;
}

static void portal_probe (DdrRoamController *self);

/* Looking again is pointless while paused or on a trusted network: nothing uses the
 * answer. Resume(), a reload and every network event look again. */
static gboolean
reprobe_wanted (const DdrRoamController *self)
{
  return !self->facts.paused && !self->facts.trusted_network;
}

/* Arms *id for the next look on the re-probe schedule; *since_us is when this
 * trouble began (set now if it just did), *last_ms the wait before. */
static void
schedule_reprobe (DdrRoamController *self, DdrReprobeKind kind, gint64 *since_us,
                  guint *last_ms, guint *id, GSourceFunc fn)
{
  gint64 now = g_get_monotonic_time ();

  g_clear_handle_id (id, g_source_remove);
  if (!reprobe_wanted (self))
    return;
  if (*since_us == 0)
    *since_us = now;
  *last_ms = ddr_roam_reprobe_delay (kind, *last_ms, (now - *since_us) / 1000);
  *id = g_timeout_add (*last_ms, fn, self);
  g_debug ("next %s probe in %u ms", kind == DDR_REPROBE_PORTAL ? "portal" : "service", *last_ms);
}

/* ---- trust-protected: the network's own answer for the check name ---- */

static gboolean
same_addresses (char **a, char **b)
{
  guint n = a ? g_strv_length (a) : 0;

  if (n == 0 || n != (b ? g_strv_length (b) : 0))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!g_strv_contains ((const char *const *) b, a[i]))
      return FALSE;
  return TRUE;
}

static void
compare_trust (DdrRoamController *self)
{
  if (!self->facts.trust_protected || self->trust_running)
    return;
  if (!self->network_addrs || !self->network_addrs[0])
    self->facts.network_protected = DDR_CHECK_FAILED;
  else if (self->facts.service == DDR_CHECK_OK)
    self->facts.network_protected = same_addresses (self->network_addrs, self->service_addrs)
                                    ? DDR_CHECK_OK : DDR_CHECK_FAILED;
  /* Never trust without the service's own answer to compare with: a network
   * that answers the check name while DoH fails proves nothing (issue 10.8). */
}

static void
on_trust_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  guint rcode = 0;
  char **addrs = ddr_dns_lookup_finish (result, &rcode, &error);
  DdrRoamController *self = call_end (user_data);

  if (!self)
    {
      g_strfreev (addrs);
      return;
    }
  self->trust_running = FALSE;
  g_strfreev (self->network_addrs);
  self->network_addrs = rcode == 0 ? addrs : (g_strfreev (addrs), NULL);
  if (error)
    g_debug ("the network's DNS did not answer the check name: %s", error->message);
  compare_trust (self);
  ddr_roam_update (self);
}

static void
trust_check (DdrRoamController *self)
{
  const DdrNetSnapshot *s = self->snapshot;

  if (!self->facts.trust_protected || self->trust_running)
    return;
  if (!s || !s->have_primary || !s->primary.servers || !s->primary.servers[0])
    {
      self->facts.network_protected = DDR_CHECK_FAILED;
      return;
    }
  self->trust_running = TRUE;
  ddr_dns_lookup_async ((const char *const *) s->primary.servers, self->config.check_name, 1,
                        TRUST_TIMEOUT_MS, self->checks, on_trust_done, call_new (self));
}

/* ---- the service probe ---- */

static gboolean
on_retry (gpointer user_data)
{
  DdrRoamController *self = user_data;

  self->retry_id = 0;
  ddr_roam_service_probe (self);
  return G_SOURCE_REMOVE;
}

static void
on_service_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  Call *call = user_data;
  char **addrs = ddr_relay_probe_finish (call->relay, result, &error);
  DdrRoamController *self = call_end (call);

  if (!self)
    {
      g_strfreev (addrs);
      return;
    }
  self->service_running = FALSE;
  g_strfreev (self->service_addrs);
  self->service_addrs = addrs;
  if (addrs)
    {
      /* Behind a portal, the service answering again means someone logged in:
       * look at the portal now rather than at its next re-probe. */
      if (self->facts.service != DDR_CHECK_OK && self->facts.portal_seen)
        portal_probe (self);
      if (self->facts.service != DDR_CHECK_OK)
        g_info ("the ThreatSTOP service answers");
      self->facts.service = DDR_CHECK_OK;
      self->backoff_ms = 0;
      self->service_failing_us = 0;
      /* A failed proof is worth another try once the service answers again. */
      if (self->facts.canary == DDR_CHECK_FAILED)
        self->facts.canary = DDR_CHECK_UNKNOWN;
      ddr_roam_set_error (self, NULL);
    }
  else
    {
      self->facts.service = DDR_CHECK_FAILED;
      ddr_roam_set_error (self, error->message);
      schedule_reprobe (self, DDR_REPROBE_SERVICE, &self->service_failing_us, &self->backoff_ms,
                        &self->retry_id, on_retry);
    }
  compare_trust (self);
  ddr_roam_update (self);
}

void
ddr_roam_service_probe (DdrRoamController *self)
{
  if (self->service_running || !self->checks || !self->config.check_name)
    return;
  g_clear_handle_id (&self->retry_id, g_source_remove);
  self->service_running = TRUE;
  ddr_relay_probe_async (self->relay, self->config.check_name, self->checks, on_service_done,
                         call_new (self));
}

/* Relay traffic is the health check: when every upstream fails, find out at
 * once whether the service is gone; when one answers again, come back at once. */
void
ddr_roam_on_health (gboolean all_failing, gpointer user_data)
{
  DdrRoamController *self = user_data;

  if (!self->facts.roaming || !self->checks)
    return;
  if (all_failing ? self->facts.service == DDR_CHECK_OK : self->facts.service == DDR_CHECK_FAILED)
    {
      self->backoff_ms = 0;
      ddr_roam_service_probe (self);
    }
}

/* ---- our own portal probe ---- */


static gboolean
on_portal_retry (gpointer user_data)
{
  DdrRoamController *self = user_data;

  self->portal_retry_id = 0;
  portal_probe (self);
  return G_SOURCE_REMOVE;
}

static void
on_portal_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree char *url = NULL;
  g_autofree char *detail = NULL;
  DdrPortalResult r = ddr_portal_probe_finish (result, &url, &detail);
  DdrRoamController *self = call_end (user_data);
  gboolean was;
  gboolean url_changed = FALSE;

  if (!self)
    return;
  self->portal_running = FALSE;
  self->facts.portal_checked = TRUE;
  was = self->facts.portal_seen;
  self->facts.portal_seen = r == DDR_PORTAL_DETECTED;
  self->facts.portal_no_address = self->facts.portal_seen && url && !*url;
  g_debug ("portal probe: %s", detail ? detail : "(no detail)");
  if (self->facts.portal_seen)
    {
      if (!was)
        g_info ("captive portal: %s", detail ? detail : url);
      url_changed = g_strcmp0 (url, self->portal_url) != 0;
      g_free (self->portal_url);
      self->portal_url = g_steal_pointer (&url);
      /* A portal only wins while the service does not answer (issue 10.3): ask
       * the service again now, its last answer may be from before the portal. */
      if (!was)
        {
          self->backoff_ms = 0;
          ddr_roam_service_probe (self);
        }
    }
  if (self->facts.portal_seen || self->facts.connectivity == DDR_CONNECTIVITY_PORTAL)
    {
      /* Someone is logging in: look again soon, and have NM look too. */
      if (!self->facts.portal_seen)
        ddr_nm_monitor_recheck (self->monitor);
      schedule_reprobe (self, DDR_REPROBE_PORTAL, &self->portal_since_us,
                        &self->portal_backoff_ms, &self->portal_retry_id, on_portal_retry);
    }
  else
    {
      self->portal_since_us = 0;
      self->portal_backoff_ms = 0;
    }
  if (was && !self->facts.portal_seen)
    {
      g_info ("the captive portal is gone");
      g_clear_pointer (&self->portal_url, g_free);
      ddr_nm_monitor_recheck (self->monitor);
      self->backoff_ms = 0;
      ddr_roam_service_probe (self);
    }
  /* The portal's host goes to the network's DNS exactly as long as the portal is there. */
  if (was != self->facts.portal_seen || url_changed)
    ddr_roam_apply_routes (self);
  ddr_roam_update (self);
}

static void
portal_probe (DdrRoamController *self)
{
  const DdrNetSnapshot *s = self->snapshot;
  const char *url = self->config.portal_probe_url;

  if (!url || !*url || self->portal_running || !self->checks)
    return;
  self->portal_running = TRUE;
  ddr_portal_probe_async (url, s && s->have_primary ? (const char *const *) s->primary.servers : NULL,
                          s && s->have_primary ? s->primary_iface : NULL,
                          PORTAL_TIMEOUT_MS, self->checks, on_portal_done, call_new (self));
}

/* ---- the canary: does the system resolver really reach the relay? ---- */

static void canary_attempt (DdrRoamController *self);

void
ddr_roam_canary_stop (DdrRoamController *self)
{
  self->canary_gen++;   /* answers of the resolver still in flight are for an old proof */
  ddr_relay_expect_canary (self->relay, NULL, NULL, NULL);
  g_clear_pointer (&self->canary_name, g_free);
  g_clear_handle_id (&self->canary_id, g_source_remove);
}

static void
canary_done (DdrRoamController *self, gboolean ok)
{
  ddr_roam_canary_stop (self);
  self->rc_suspect = FALSE;
  self->facts.canary = ok ? DDR_CHECK_OK : DDR_CHECK_FAILED;
  if (!ok)
    {
      ddr_roam_set_error (self, "DNS steering did not take effect: a test name resolved through "
                                "the system resolver never reached the relay.");
      ddr_roam_steer_schedule_retry (self, TRUE);
    }
  ddr_roam_update (self);
}

static void
on_canary_seen (gpointer user_data)
{
  DdrRoamController *self = user_data;

  g_debug ("canary seen after %u attempts", self->canary_attempt);
  canary_done (self, TRUE);
}

static gboolean
on_canary_timer (gpointer user_data)
{
  DdrRoamController *self = user_data;

  self->canary_id = 0;
  canary_attempt (self);
  return G_SOURCE_REMOVE;
}

static void
on_canary_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GList *addrs = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, NULL);
  Call *call = user_data;
  guint gen = call->gen;
  DdrRoamController *self = call_end (call);

  g_resolver_free_addresses (addrs);
  if (!self || gen != self->canary_gen || !self->canary_name)
    return;   /* cancelled, already seen, or an earlier proof's answer */
  if (ddr_roam_steer_rc_failed (self))
    return;   /* a loss: the canary was stopped, steering is applied again */
  self->canary_attempt++;
  if (self->canary_attempt >= G_N_ELEMENTS (canary_delays_ms))
    {
      canary_done (self, FALSE);
      return;
    }
  self->canary_id = g_timeout_add (canary_delays_ms[self->canary_attempt], on_canary_timer, self);
}

static void
canary_attempt (DdrRoamController *self)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  Call *call = call_new (self);

  /* A fresh name each time: a negative answer cached on a leaking path must not
   * hide a later success. */
  g_free (self->canary_name);
  self->canary_name = g_strdup_printf ("%08x%08x.canary.threatstop-ddr.arpa", g_random_int (),
                                       g_random_int ());
  call->gen = self->canary_gen;
  ddr_relay_expect_canary (self->relay, self->canary_name, on_canary_seen, self);
  g_resolver_lookup_by_name_async (resolver, self->canary_name, self->checks, on_canary_resolved,
                                   call);
}

void
ddr_roam_canary_start (DdrRoamController *self)
{
  if (!self->checks)
    return;
  ddr_roam_canary_stop (self);
  self->canary_attempt = 0;
  canary_attempt (self);
}

/* ---- all of them ---- */

void
ddr_roam_checks_reset (DdrRoamController *self)
{
  if (self->checks)
    g_cancellable_cancel (self->checks);
  g_clear_object (&self->checks);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->portal_retry_id, g_source_remove);
  ddr_roam_canary_stop (self);
  g_clear_pointer (&self->service_addrs, g_strfreev);
  g_clear_pointer (&self->network_addrs, g_strfreev);
  self->service_running = self->portal_running = self->trust_running = FALSE;
  self->backoff_ms = self->portal_backoff_ms = 0;
  self->service_failing_us = self->portal_since_us = 0;
}

void
ddr_roam_checks_hold (DdrRoamController *self)
{
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->portal_retry_id, g_source_remove);
}

void
ddr_roam_checks_start (DdrRoamController *self)
{
  ddr_roam_checks_reset (self);
  /* A forwarder probes nothing: no portal probe, no traffic but its clients'. */
  if (!self->facts.roaming)
    return;
  self->checks = g_cancellable_new ();
  self->facts.portal_seen = FALSE;
  self->facts.portal_checked = !self->config.portal_probe_url || !*self->config.portal_probe_url;
  self->facts.service = DDR_CHECK_UNKNOWN;
  self->facts.canary = DDR_CHECK_UNKNOWN;
  self->facts.network_protected = DDR_CHECK_UNKNOWN;
  if (!self->facts.have_network || self->facts.connectivity == DDR_CONNECTIVITY_NONE)
    return;
  portal_probe (self);
  ddr_roam_service_probe (self);
  trust_check (self);
}

void
ddr_roam_checks_reprobe (DdrRoamController *self)
{
  if (!self->facts.roaming || !self->facts.ready)
    return;
  if (!self->checks)
    {
      ddr_roam_checks_start (self);
      return;
    }
  /* New evidence: the schedules start over, eager again. */
  self->backoff_ms = self->portal_backoff_ms = 0;
  self->service_failing_us = self->portal_since_us = 0;
  portal_probe (self);
  ddr_roam_service_probe (self);
  trust_check (self);
  /* Whatever changed may have changed where the system resolver goes. */
  ddr_roam_steer_reprove (self);
}
