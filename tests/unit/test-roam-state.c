/* The roaming state machine's decision: every rule, and the order between them. */
#include "config.h"

#include "ddr-nm-monitor.h"
#include "ddr-roam-state.h"

/* A connected network whose checks all passed: protected. Cases change one fact. */
static DdrRoamFacts
base (void)
{
  return (DdrRoamFacts) {
    .roaming = TRUE, .ready = TRUE, .have_network = TRUE,
    .connectivity = DDR_CONNECTIVITY_FULL, .portal_checked = TRUE,
    .service = DDR_CHECK_OK, .canary = DDR_CHECK_OK,
  };
}

static void
expect (const DdrRoamFacts *f, DdrRoamState state, gboolean steer)
{
  DdrRoamDecision d = ddr_roam_decide (f);
  g_autofree char *reason = ddr_roam_reason (f, d.state, "Hotel");

  g_assert_cmpstr (ddr_roam_state_to_string (d.state), ==, ddr_roam_state_to_string (state));
  g_assert_cmpint (d.steer, ==, steer);
  g_assert_nonnull (reason);
  g_assert_true (g_str_has_suffix (reason, "."));
}

static void
test_protected (void)
{
  DdrRoamFacts f = base ();
  g_autofree char *reason = NULL;

  expect (&f, DDR_ROAM_PROTECTED, TRUE);
  reason = ddr_roam_reason (&f, DDR_ROAM_PROTECTED, "Hotel");
  g_assert_nonnull (strstr (reason, "\"Hotel\""));
  /* Unknown and limited connectivity do not stop a working service. */
  f.connectivity = DDR_CONNECTIVITY_UNKNOWN;
  expect (&f, DDR_ROAM_PROTECTED, TRUE);
  f.connectivity = DDR_CONNECTIVITY_LIMITED;
  expect (&f, DDR_ROAM_PROTECTED, TRUE);
}

static void
test_forwarding (void)
{
  DdrRoamFacts f = base ();

  f.roaming = FALSE;
  expect (&f, DDR_ROAM_FORWARDING, FALSE);
  /* Forwarding wins over everything, pause included. */
  f.paused = TRUE;
  f.ready = FALSE;
  expect (&f, DDR_ROAM_FORWARDING, FALSE);
}

static void
test_starting (void)
{
  DdrRoamFacts f = base ();

  f.ready = FALSE;
  expect (&f, DDR_ROAM_STARTING, FALSE);
}

static void
test_paused (void)
{
  DdrRoamFacts f = base ();

  f.paused = TRUE;
  expect (&f, DDR_ROAM_PAUSED, FALSE);
  f.have_network = FALSE;         /* paused beats offline */
  expect (&f, DDR_ROAM_PAUSED, FALSE);
  f.have_network = TRUE;
  f.connectivity = DDR_CONNECTIVITY_PORTAL;
  expect (&f, DDR_ROAM_PAUSED, FALSE);
}

static void
test_offline (void)
{
  DdrRoamFacts f = base ();

  f.have_network = FALSE;
  expect (&f, DDR_ROAM_OFFLINE, FALSE);
  f.have_network = TRUE;
  f.connectivity = DDR_CONNECTIVITY_NONE;
  expect (&f, DDR_ROAM_OFFLINE, FALSE);
  f.trusted_network = TRUE;       /* offline beats trusted */
  expect (&f, DDR_ROAM_OFFLINE, FALSE);
}

static void
test_trusted (void)
{
  DdrRoamFacts f = base ();

  f.trusted_network = TRUE;
  expect (&f, DDR_ROAM_TRUSTED, FALSE);
  f.connectivity = DDR_CONNECTIVITY_PORTAL;   /* a trusted network's portal is its own business */
  expect (&f, DDR_ROAM_TRUSTED, FALSE);
  f.service = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_TRUSTED, FALSE);
}

static void
test_trust_protected (void)
{
  DdrRoamFacts f = base ();

  /* Opt-in off: the network's answer does not matter. */
  f.network_protected = DDR_CHECK_OK;
  expect (&f, DDR_ROAM_PROTECTED, TRUE);

  f.trust_protected = TRUE;
  expect (&f, DDR_ROAM_TRUSTED, FALSE);
  f.network_protected = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_PROTECTED, TRUE);
  /* Still comparing: do not steer just to stand down. */
  f.network_protected = DDR_CHECK_UNKNOWN;
  expect (&f, DDR_ROAM_PROBING, FALSE);
  /* ...unless the service is known to be down. */
  f.service = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_UNREACHABLE, FALSE);
  /* A portal beats the network's claim to be protected. */
  f.network_protected = DDR_CHECK_OK;
  f.portal_seen = TRUE;
  expect (&f, DDR_ROAM_PORTAL, FALSE);
}

/* Issue 10.8: the network's answer is only compared with an answer the service
 * gave; without one (probe failed or not back yet) nothing is trusted. */
static void
test_trust_needs_service (void)
{
  DdrRoamFacts f = base ();

  f.trust_protected = TRUE;
  f.network_protected = DDR_CHECK_OK;
  f.service = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_UNREACHABLE, FALSE);
  f.block = TRUE;
  expect (&f, DDR_ROAM_UNREACHABLE, TRUE);
  f.block = FALSE;
  f.service = DDR_CHECK_UNKNOWN;
  expect (&f, DDR_ROAM_PROBING, FALSE);
  f.service = DDR_CHECK_OK;
  expect (&f, DDR_ROAM_TRUSTED, FALSE);
}

static void
test_portal (void)
{
  DdrRoamFacts f = base ();

  /* A real portal blocks the service too. */
  f.service = DDR_CHECK_FAILED;
  f.connectivity = DDR_CONNECTIVITY_PORTAL;
  expect (&f, DDR_ROAM_PORTAL, FALSE);
  f.connectivity = DDR_CONNECTIVITY_FULL;
  f.portal_seen = TRUE;
  expect (&f, DDR_ROAM_PORTAL, FALSE);
  /* Until the service has answered, a portal keeps the network's DNS (and is
   * not announced yet: it may be a fake one next to a working service). */
  f.service = DDR_CHECK_UNKNOWN;
  expect (&f, DDR_ROAM_PROBING, FALSE);
  f.service = DDR_CHECK_FAILED;
  /* Even with block, a portal lets the network's DNS serve: the user must log in. */
  f.block = TRUE;
  f.service = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_PORTAL, FALSE);
}

/* Issue 10.3: a portal wins only while the service does not answer. A spoofed
 * redirect (or NM's PORTAL) next to a service that answers over verified TLS
 * keeps the laptop protected; the portal is still reported in the reason. */
static void
test_portal_with_service (void)
{
  DdrRoamFacts f = base ();
  g_autofree char *reason = NULL;

  f.portal_seen = TRUE;
  expect (&f, DDR_ROAM_PROTECTED, TRUE);
  reason = ddr_roam_reason (&f, DDR_ROAM_PROTECTED, "Hotel");
  g_assert_nonnull (strstr (reason, "portal"));
  f.portal_seen = FALSE;
  f.connectivity = DDR_CONNECTIVITY_PORTAL;
  expect (&f, DDR_ROAM_PROTECTED, TRUE);
  /* Steered, proving it: still not the portal state. */
  f.canary = DDR_CHECK_UNKNOWN;
  expect (&f, DDR_ROAM_PROBING, TRUE);
  /* The steering cannot be proved: fall back, as without a portal. */
  f.canary = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_UNREACHABLE, FALSE);
  /* The service stops answering (the portal is real): portal, network DNS. */
  f.canary = DDR_CHECK_OK;
  f.service = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_PORTAL, FALSE);
  /* Our own probe's verdict still comes first. */
  f.service = DDR_CHECK_OK;
  f.portal_checked = FALSE;
  expect (&f, DDR_ROAM_PROBING, FALSE);
}

static void
test_probing (void)
{
  DdrRoamFacts f = base ();

  f.service = DDR_CHECK_UNKNOWN;
  f.canary = DDR_CHECK_UNKNOWN;
  expect (&f, DDR_ROAM_PROBING, FALSE);
  /* Service answered: steer, then prove it with the canary before "protected". */
  f.service = DDR_CHECK_OK;
  expect (&f, DDR_ROAM_PROBING, TRUE);
}

static void
test_unreachable (void)
{
  DdrRoamFacts f = base ();

  f.service = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_UNREACHABLE, FALSE);
  f.block = TRUE;
  expect (&f, DDR_ROAM_UNREACHABLE, TRUE);
  /* Steering that the canary cannot prove falls back, block or not. */
  f.service = DDR_CHECK_OK;
  f.canary = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_UNREACHABLE, FALSE);
}

static void
test_portal_verdict_first (void)
{
  DdrRoamFacts f = base ();

  /* The service answered first: still no steering until our portal probe has. */
  f.portal_checked = FALSE;
  f.canary = DDR_CHECK_UNKNOWN;
  expect (&f, DDR_ROAM_PROBING, FALSE);
  f.service = DDR_CHECK_FAILED;
  f.block = TRUE;
  expect (&f, DDR_ROAM_PROBING, FALSE);
  /* NM's own verdict does not wait for ours. */
  f.connectivity = DDR_CONNECTIVITY_PORTAL;
  expect (&f, DDR_ROAM_PORTAL, FALSE);
}

static void
test_nm_lost (void)
{
  DdrRoamFacts f = base ();
  g_autofree char *reason = NULL;

  f.nm_lost = TRUE;
  expect (&f, DDR_ROAM_OFFLINE, FALSE);
  reason = ddr_roam_reason (&f, DDR_ROAM_OFFLINE, NULL);
  g_assert_nonnull (strstr (reason, "NetworkManager"));
}

/* Steering someone else undid: probing (steer again, prove again), and Reason says why. */
static void
test_steering_lost (void)
{
  DdrRoamFacts f = base ();
  g_autofree char *reason = NULL;

  f.canary = DDR_CHECK_UNKNOWN;
  f.steering_lost = TRUE;
  expect (&f, DDR_ROAM_PROBING, TRUE);
  reason = ddr_roam_reason (&f, DDR_ROAM_PROBING, "Hotel");
  g_assert_nonnull (strstr (reason, "another program"));
  g_assert_nonnull (strstr (reason, "\"Hotel\""));
}

/* Steering refused by the backend (no dummy link type in the kernel): the reason says
 * so instead of blaming the system resolver, whose proof never ran (issue 12 item 3). */
static void
test_steering_refused (void)
{
  DdrRoamFacts f = base ();
  g_autofree char *refused = NULL;
  g_autofree char *unproved = NULL;

  f.canary = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_UNREACHABLE, FALSE);
  unproved = ddr_roam_reason (&f, DDR_ROAM_UNREACHABLE, "Hotel");
  g_assert_nonnull (strstr (unproved, "system resolver"));
  f.steer_refused = TRUE;
  expect (&f, DDR_ROAM_UNREACHABLE, FALSE);
  refused = ddr_roam_reason (&f, DDR_ROAM_UNREACHABLE, "Hotel");
  g_assert_nonnull (strstr (refused, "could not be pointed at the relay"));
  g_assert_null (strstr (refused, "system resolver"));
}

static void
test_names (void)
{
  g_assert_cmpstr (ddr_roam_state_to_string (DDR_ROAM_STARTING), ==, "starting");
  g_assert_cmpstr (ddr_roam_state_to_string (DDR_ROAM_FORWARDING), ==, "forwarding");
  g_assert_cmpstr (ddr_roam_state_to_string (DDR_ROAM_OFFLINE), ==, "offline");
  g_assert_cmpstr (ddr_roam_state_to_string (DDR_ROAM_PROBING), ==, "probing");
  g_assert_cmpstr (ddr_roam_state_to_string (DDR_ROAM_PORTAL), ==, "portal");
  g_assert_cmpstr (ddr_roam_state_to_string (DDR_ROAM_PROTECTED), ==, "protected");
  g_assert_cmpstr (ddr_roam_state_to_string (DDR_ROAM_UNREACHABLE), ==, "unreachable");
  g_assert_cmpstr (ddr_roam_state_to_string (DDR_ROAM_TRUSTED), ==, "trusted");
  g_assert_cmpstr (ddr_roam_state_to_string (DDR_ROAM_PAUSED), ==, "paused");
}

/* A portal whose address failed the hostile-input checks: Reason says so, in both
 * states a portal shows in; without a portal nothing is said. */
static void
test_portal_no_address (void)
{
  DdrRoamFacts f = base ();
  g_autofree char *portal = NULL, *protected = NULL, *clear = NULL, *usable = NULL;

  f.portal_seen = TRUE;
  f.portal_no_address = TRUE;
  f.service = DDR_CHECK_FAILED;
  expect (&f, DDR_ROAM_PORTAL, FALSE);
  portal = ddr_roam_reason (&f, DDR_ROAM_PORTAL, "Hotel");
  g_assert_nonnull (strstr (portal, "no usable address"));
  f.service = DDR_CHECK_OK;
  expect (&f, DDR_ROAM_PROTECTED, TRUE);
  protected = ddr_roam_reason (&f, DDR_ROAM_PROTECTED, "Hotel");
  g_assert_nonnull (strstr (protected, "no usable address"));
  f.portal_no_address = FALSE;
  usable = ddr_roam_reason (&f, DDR_ROAM_PROTECTED, "Hotel");
  g_assert_null (strstr (usable, "no usable address"));
  f = base ();
  clear = ddr_roam_reason (&f, DDR_ROAM_PROTECTED, "Hotel");
  g_assert_null (strstr (clear, "no usable address"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/roam-state/protected", test_protected);
  g_test_add_func ("/roam-state/forwarding", test_forwarding);
  g_test_add_func ("/roam-state/starting", test_starting);
  g_test_add_func ("/roam-state/paused", test_paused);
  g_test_add_func ("/roam-state/offline", test_offline);
  g_test_add_func ("/roam-state/trusted", test_trusted);
  g_test_add_func ("/roam-state/trust-protected", test_trust_protected);
  g_test_add_func ("/roam-state/portal", test_portal);
  g_test_add_func ("/roam-state/portal-with-service", test_portal_with_service);
  g_test_add_func ("/roam-state/trust-needs-service", test_trust_needs_service);
  g_test_add_func ("/roam-state/probing", test_probing);
  g_test_add_func ("/roam-state/unreachable", test_unreachable);
  g_test_add_func ("/roam-state/portal-verdict-first", test_portal_verdict_first);
  g_test_add_func ("/roam-state/nm-lost", test_nm_lost);
  g_test_add_func ("/roam-state/steering-lost", test_steering_lost);
  g_test_add_func ("/roam-state/steering-refused", test_steering_refused);
  g_test_add_func ("/roam-state/names", test_names);
  g_test_add_func ("/roam-state/portal-no-address", test_portal_no_address);
  return g_test_run ();
}
