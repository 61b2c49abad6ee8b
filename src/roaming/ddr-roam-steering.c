/* The controller's side of steering: keep the system DNS where the decision wants
 * it (retrying failures and losses with back-off), and prove it with the canary - after
 * steering, after every network event and resume, and every 10 minutes while protected. */
#define G_LOG_DOMAIN "ddr-roaming"

#include "config.h"

#include "ddr-backoff.h"
#include "ddr-roam-private.h"

#define RETRY_FIRST_MS        1000     /* a steering call that failed */
#define RETRY_MAX_MS          60000
#define PROOF_RETRY_FIRST_MS  30000    /* steering that the canary could not prove */
#define PROOF_RETRY_MAX_MS    (5 * 60 * 1000)
#define LOST_FIRST_MS         1000     /* steering that someone else undid */
#define LOST_MAX_MS           60000
#define REPROOF_MINUTES       10       /* while protected, the canary again */

static void push_steering (DdrRoamController *self);

/* Once the system points at the relay, prove it (unless a proof is running or done). */
static void
maybe_prove (DdrRoamController *self)
{
  if (self->steer_wanted && !self->steer_busy && self->steer && ddr_steer_is_on (self->steer) &&
      self->facts.canary == DDR_CHECK_UNKNOWN && !self->canary_name)
    ddr_roam_canary_start (self);
}

static gboolean
on_retry (gpointer user_data)
{
  DdrRoamController *self = user_data;

  self->steer_retry_id = 0;
  self->steer_failed = FALSE;
  /* A failed attempt or proof is worth another try while the service answers. */
  if (self->facts.canary == DDR_CHECK_FAILED && self->facts.service == DDR_CHECK_OK)
    self->facts.canary = DDR_CHECK_UNKNOWN;
  ddr_roam_update (self);
  return G_SOURCE_REMOVE;
}

/* Try again later: a failed steering call soon (1 s doubling to 1 min), steering the
 * canary could not prove slowly (30 s doubling to 5 min: meanwhile the system uses
 * the network's DNS); both at once on the next network event. */
void
ddr_roam_steer_schedule_retry (DdrRoamController *self, gboolean proof)
{
  guint first = proof ? PROOF_RETRY_FIRST_MS : RETRY_FIRST_MS;
  guint max = proof ? PROOF_RETRY_MAX_MS : RETRY_MAX_MS;

  if (self->steer_retry_id)
    return;
  self->steer_backoff_ms = ddr_backoff_next (self->steer_backoff_ms, first, max);
  self->steer_retry_id = g_timeout_add (self->steer_backoff_ms, on_retry, self);
}

/* The backend saw its steering undone (a profile taken down, a link reverted,
 * resolv.conf rewritten): not protected from this moment. Steer again after a back-off
 * that grows while someone keeps undoing it, and starts over once it has held. */
void
ddr_roam_on_steering_lost (DdrSteer *steer, const char *why, gpointer user_data)
{
  DdrRoamController *self = user_data;
  g_autofree char *message = g_strdup_printf ("DNS steering was undone: %s.", why);
  gint64 now = g_get_monotonic_time ();

  self->changed_us = now;
  ddr_roam_set_error (self, message);
  ddr_roam_canary_stop (self);
  if (self->facts.canary == DDR_CHECK_OK)
    self->facts.canary = DDR_CHECK_UNKNOWN;
  self->facts.steering_lost = self->steer_wanted;
  if (self->steer_wanted)
    {
      if (self->lost_us && now - self->lost_us > (gint64) LOST_MAX_MS * 2 * 1000)
        self->lost_backoff_ms = 0;
      self->lost_us = now;
      self->lost_backoff_ms = ddr_backoff_next (self->lost_backoff_ms, LOST_FIRST_MS,
                                                LOST_MAX_MS);
      /* Like a failed call: the same request waits for its retry. */
      self->steer_failed = TRUE;
      self->steer_request = TRUE;
      g_clear_handle_id (&self->steer_retry_id, g_source_remove);
      self->steer_retry_id = g_timeout_add (self->lost_backoff_ms, on_retry, self);
      g_info ("steering again in %u ms", self->lost_backoff_ms);
    }
  ddr_roam_update (self);
}

/* Prove again what is believed protected (the canary through the system resolver). */
void
ddr_roam_steer_reprove (DdrRoamController *self)
{
  if (self->facts.canary == DDR_CHECK_OK && !self->canary_name && !self->steer_busy &&
      self->steer && ddr_steer_is_on (self->steer))
    {
      g_debug ("proving the DNS steering again");
      ddr_roam_canary_start (self);
    }
}

/* resolv.conf changed while protected. NM and resolved write it themselves (our own
 * steering does too), so a change is no loss: prove at once, and let the first attempt
 * that does not reach the relay count as one (the full proof takes seconds). */
static void
on_rc_changed (gpointer user_data)
{
  DdrRoamController *self = user_data;

  if (self->state != DDR_ROAM_PROTECTED)
    return;
  g_debug ("resolv.conf changed: proving the DNS steering again");
  self->rc_suspect = TRUE;
  ddr_roam_steer_reprove (self);   /* or the proof already running decides */
}

gboolean
ddr_roam_steer_rc_failed (DdrRoamController *self)
{
  if (!self->rc_suspect)
    return FALSE;
  self->rc_suspect = FALSE;
  return ddr_steer_report_lost (self->steer, "resolv.conf was rewritten by another program "
                                             "and no longer reaches the relay");
}

/* The resolv.conf backend watches its own file; none steers nothing. */
static gboolean
needs_rc_watch (DdrRoamController *self)
{
  const char *backend = self->steer ? ddr_steer_get_backend (self->steer) : "none";

  return self->state == DDR_ROAM_PROTECTED && !g_str_equal (backend, "none") &&
         !g_str_equal (backend, "resolv.conf");
}

static gboolean
on_reproof (gpointer user_data)
{
  ddr_roam_steer_reprove (user_data);
  return G_SOURCE_CONTINUE;
}

/* One timer, only while protected: an idle laptop wakes for it every 10 minutes and
 * for nothing else of ours. */
void
ddr_roam_steer_follow_state (DdrRoamController *self)
{
  guint64 ms = (guint64) REPROOF_MINUTES * self->minute_ms;

  if (self->state == DDR_ROAM_PROTECTED)
    self->facts.steering_lost = FALSE;
  if (!needs_rc_watch (self))
    {
      ddr_steer_unwatch_resolv_conf (&self->rc_monitor);
      self->rc_suspect = FALSE;
    }
  else if (!self->rc_monitor)
    self->rc_monitor = ddr_steer_watch_resolv_conf (self->root, on_rc_changed, self);
  if (self->state != DDR_ROAM_PROTECTED)
    g_clear_handle_id (&self->reproof_id, g_source_remove);
  else if (!self->reproof_id)
    self->reproof_id = ms % 1000 == 0 ? g_timeout_add_seconds ((guint) (ms / 1000), on_reproof,
                                                              self)
                                      : g_timeout_add ((guint) ms, on_reproof, self);
}

void
ddr_roam_steer_retry_now (DdrRoamController *self)
{
  self->steer_backoff_ms = 0;
  if (self->steer_retry_id)
    {
      g_clear_handle_id (&self->steer_retry_id, g_source_remove);
      on_retry (self);
    }
}

static gboolean
nm_left (const DdrRoamController *self, const GError *error)
{
  return g_str_equal (ddr_steer_get_backend (self->steer), "networkmanager") &&
         (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
          g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
          g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER));
}

static void
on_steer_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  DdrRoamController *self = user_data;
  gboolean ok = ddr_steer_set_finish (DDR_STEER (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->steer_busy = FALSE;
  if (!ok)
    {
      g_autofree char *message = g_strdup_printf ("Cannot %s the system DNS: %s",
                                                  self->steer_request ? "steer" : "restore",
                                                  error->message);

      /* NetworkManager restarting takes its in-memory steering with it: a call that
       * cannot reach it meanwhile is expected, not an error (tried again all the same).
       * Its leaving may answer a call in flight before libnm tells us it is gone. */
      if (nm_left (self, error))
        self->nm_away = TRUE;
      if (self->nm_away)
        g_info ("%s (NetworkManager is restarting: its steering went with it)", message);
      else
        ddr_roam_set_error (self, message);
      if (self->steer_request)
        {
          self->facts.canary = DDR_CHECK_FAILED;   /* not protected: fall back meanwhile */
          self->facts.steer_refused = TRUE;
        }
      self->steer_failed = TRUE;
      ddr_roam_steer_schedule_retry (self, FALSE);
    }
  else
    {
      self->steer_failed = FALSE;
      self->facts.steer_refused = FALSE;
      self->steer_backoff_ms = 0;
      self->nm_away = FALSE;
    }
  ddr_roam_update (self);
}

static void
push_steering (DdrRoamController *self)
{
  self->steer_busy = TRUE;
  self->steer_request = self->steer_wanted;
  ddr_steer_set_async (self->steer, self->steer_wanted, self->cancellable, on_steer_done, self);
}

/* Moves the system DNS toward `on` (what the decision wants). The comparison is with
 * what the backend really did last, so a failed call is made again (after the retry
 * back-off). Returns TRUE when it changed the facts on the spot (no backend). */
gboolean
ddr_roam_steer_toward (DdrRoamController *self, gboolean on)
{
  if (on != self->steer_wanted)
    {
      self->steer_wanted = on;
      if (!on)
        {
          self->facts.steering_lost = FALSE;   /* no longer the story of this state */
          /* A proof in progress is for a path that is going away. */
          ddr_roam_canary_stop (self);
          if (self->facts.canary == DDR_CHECK_OK)
            self->facts.canary = DDR_CHECK_UNKNOWN;
        }
    }
  if (!self->steer)
    {
      if (!on || self->facts.canary == DDR_CHECK_FAILED)
        return FALSE;
      ddr_roam_set_error (self, "No DNS steering backend is available.");
      self->facts.canary = DDR_CHECK_FAILED;
      self->facts.steer_refused = TRUE;
      return TRUE;
    }
  /* The same request that just failed waits for its retry; anything else goes now. */
  if (!self->steer_busy && on != ddr_steer_is_on (self->steer) &&
      !(self->steer_failed && on == self->steer_request))
    push_steering (self);
  maybe_prove (self);
  return FALSE;
}
