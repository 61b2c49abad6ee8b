/* What the controller and its checks share (not for other modules). */
#pragma once

#include "ddr-nm-monitor.h"
#include "ddr-portal-probe.h"
#include "ddr-roam-controller.h"
#include "ddr-steer.h"

G_BEGIN_DECLS

struct _DdrRoamController {
  DdrRelay        *relay;
  DdrRoamConfig    config;
  char            *state_dir;
  char            *root;             /* THREATSTOP_DDR_ROOT, "" = the real system */
  DdrRoamPublish   publish;
  gpointer         publish_data;

  GDBusConnection *bus;
  DdrNmMonitor    *monitor;
  DdrSteer        *steer;
  GCancellable    *cancellable;      /* every async operation; cancelled at free */
  guint            sleep_watch;

  DdrNetSnapshot  *snapshot;
  char            *network_key;      /* what makes a network "new" */
  DdrRoamFacts     facts;
  DdrRoamState     state;
  gboolean         steer_wanted;
  gboolean         steer_busy;
  gboolean         steer_request;    /* what the call in flight (or the last one) asked for */
  guint            steer_retry_id;   /* a failed steering call or proof, tried again */
  guint            steer_backoff_ms;
  gboolean         steer_failed;     /* the last call failed: steer_request waits for the retry */
  gboolean         nm_away;          /* NM left the bus since the last steering call that worked */
  guint            lost_backoff_ms;  /* steering undone by someone else: the wait before again */
  gint64           lost_us;          /* when that last happened (monotonic) */
  guint            reproof_id;       /* while protected: prove the steering again (10 minutes) */
  GFileMonitor    *rc_monitor;       /* while protected, unless the backend owns the file:
                                      * resolv.conf, rewritten behind NM or resolved */
  gboolean         rc_suspect;       /* it changed: the first failed canary attempt is a loss */
  char            *portal_url;
  char            *last_error;
  gint64           changed_us;       /* when the last network event came (reaction time) */

  /* checks (ddr-roam-checks.c) */
  GCancellable    *checks;           /* this network's checks; replaced on a new network */
  gboolean         service_running;
  gboolean         portal_running;
  gboolean         trust_running;
  char           **service_addrs;
  char           **network_addrs;
  guint            backoff_ms;       /* the service probe's last wait (re-probe schedule) */
  guint            retry_id;
  gint64           service_failing_us;/* monotonic: since when it fails; 0 = it answers */
  guint            portal_retry_id;
  guint            portal_backoff_ms;
  gint64           portal_since_us;  /* monotonic: since when a portal is seen; 0 = none */
  guint            canary_attempt;
  guint            canary_id;
  char            *canary_name;
  guint            canary_gen;       /* which proof a resolver answer belongs to */

  /* pause */
  guint            pause_id;
  guint64          paused_until;
  guint            minute_ms;        /* THREATSTOP_DDR_MINUTE_MS (tests) */
};

/* ddr-roam-controller.c */
void ddr_roam_update             (DdrRoamController *self);
void ddr_roam_set_error          (DdrRoamController *self, const char *message);
void ddr_roam_apply_routes       (DdrRoamController *self);   /* split DNS for this network */
void ddr_roam_pause_rearm        (DdrRoamController *self);   /* after a resume from suspend */

/* ddr-roam-steering.c */
gboolean ddr_roam_steer_toward        (DdrRoamController *self, gboolean on);
void     ddr_roam_steer_schedule_retry (DdrRoamController *self, gboolean proof);
void     ddr_roam_steer_retry_now      (DdrRoamController *self);
void     ddr_roam_on_steering_lost     (DdrSteer *steer, const char *why, gpointer user_data);
void     ddr_roam_steer_reprove        (DdrRoamController *self);   /* a network event, resume */
/* A canary attempt failed after resolv.conf changed: TRUE when taken as a loss. */
gboolean ddr_roam_steer_rc_failed      (DdrRoamController *self);
void     ddr_roam_steer_follow_state   (DdrRoamController *self);   /* after a state change */

/* ddr-roam-checks.c */
void ddr_roam_checks_start       (DdrRoamController *self);   /* a new network: all checks */
void ddr_roam_checks_reset       (DdrRoamController *self);   /* cancel checks and timers */
void ddr_roam_checks_reprobe     (DdrRoamController *self);   /* look again, schedule reset */
void ddr_roam_checks_hold        (DdrRoamController *self);   /* no re-probe (paused) */
void ddr_roam_service_probe      (DdrRoamController *self);
void ddr_roam_canary_start       (DdrRoamController *self);
void ddr_roam_canary_stop        (DdrRoamController *self);   /* forget a proof in progress */
void ddr_roam_on_health          (gboolean all_failing, gpointer user_data);

G_END_DECLS
