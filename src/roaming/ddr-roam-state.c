/* The roaming state machine as a pure function: facts in, state and steering out. */
#include "config.h"

#include "ddr-nm-monitor.h"
#include "ddr-roam-state.h"

static const char *const state_names[] = {
  [DDR_ROAM_STARTING]    = "starting",
  [DDR_ROAM_FORWARDING]  = "forwarding",
  [DDR_ROAM_OFFLINE]     = "offline",
  [DDR_ROAM_PROBING]     = "probing",
  [DDR_ROAM_PORTAL]      = "portal",
  [DDR_ROAM_PROTECTED]   = "protected",
  [DDR_ROAM_UNREACHABLE] = "unreachable",
  [DDR_ROAM_TRUSTED]     = "trusted",
  [DDR_ROAM_PAUSED]      = "paused",
};

const char *
ddr_roam_state_to_string (DdrRoamState state)
{
  g_return_val_if_fail (state <= DDR_ROAM_PAUSED, "starting");
  return state_names[state];
}

static DdrRoamDecision
decision (DdrRoamState state, gboolean steer)
{
  return (DdrRoamDecision) { state, steer };
}

/* The order of the rules is the policy: an admin's pause beats everything the
 * network says; a portal wins only while the service does not answer (a real
 * portal blocks it too, and the login page needs the network's DNS; one spoofed
 * redirect next to a service that answers over verified TLS must not take the
 * protection away); the network's claim to be protected is only believed next
 * to an answer of the service; the system is only called protected once the
 * canary proved that the system resolver really reaches the relay. */
DdrRoamDecision
ddr_roam_decide (const DdrRoamFacts *f)
{
  if (!f->roaming)
    return decision (DDR_ROAM_FORWARDING, FALSE);
  if (!f->ready)
    return decision (DDR_ROAM_STARTING, FALSE);
  if (f->paused)
    return decision (DDR_ROAM_PAUSED, FALSE);
  if (f->nm_lost || !f->have_network || f->connectivity == DDR_CONNECTIVITY_NONE)
    return decision (DDR_ROAM_OFFLINE, FALSE);
  if (f->trusted_network)
    return decision (DDR_ROAM_TRUSTED, FALSE);
  if (f->connectivity == DDR_CONNECTIVITY_PORTAL || f->portal_seen)
    {
      if (f->service == DDR_CHECK_FAILED)
        return decision (DDR_ROAM_PORTAL, FALSE);
      /* The service's verdict decides; until then the network's DNS, unsteered. */
      if (f->service == DDR_CHECK_UNKNOWN)
        return decision (DDR_ROAM_PROBING, FALSE);
    }
  if (f->trust_protected && f->service != DDR_CHECK_FAILED)
    {
      if (f->network_protected == DDR_CHECK_OK && f->service == DDR_CHECK_OK)
        return decision (DDR_ROAM_TRUSTED, FALSE);
      /* Do not steer just to stand down a moment later. */
      if (f->network_protected == DDR_CHECK_UNKNOWN || f->service == DDR_CHECK_UNKNOWN)
        return decision (DDR_ROAM_PROBING, FALSE);
    }
  /* Never steer before the portal verdict: a login page needs the network's DNS. */
  if (!f->portal_checked)
    return decision (DDR_ROAM_PROBING, FALSE);
  switch (f->service)
    {
    case DDR_CHECK_OK:
      if (f->canary == DDR_CHECK_OK)
        return decision (DDR_ROAM_PROTECTED, TRUE);
      if (f->canary == DDR_CHECK_UNKNOWN)
        return decision (DDR_ROAM_PROBING, TRUE);   /* steered; proving it */
      /* Steering did not take: never leave the system on a path we cannot prove. */
      return decision (DDR_ROAM_UNREACHABLE, FALSE);
    case DDR_CHECK_FAILED:
      return decision (DDR_ROAM_UNREACHABLE, f->block);
    case DDR_CHECK_UNKNOWN:
    default:
      return decision (DDR_ROAM_PROBING, FALSE);
    }
}

static const char *
connectivity_text (guint connectivity)
{
  switch (connectivity)
    {
    case DDR_CONNECTIVITY_PORTAL:
      return "NetworkManager reports a captive portal";
    case DDR_CONNECTIVITY_LIMITED:
      return "NetworkManager reports limited connectivity";
    default:
      return "our own probe was redirected or answered unexpectedly";
    }
}

char *
ddr_roam_reason (const DdrRoamFacts *f, DdrRoamState state, const char *network)
{
  g_autofree char *on = network && *network ? g_strdup_printf (" on \"%s\"", network)
                                            : g_strdup ("");

  switch (state)
    {
    case DDR_ROAM_STARTING:
      return g_strdup ("The daemon is starting and looking at the network.");
    case DDR_ROAM_FORWARDING:
      return g_strdup ("Roaming is off: the relay forwards DNS queries to the ThreatSTOP service, "
                       "and the system DNS settings are left unchanged.");
    case DDR_ROAM_PAUSED:
      return g_strdup ("Protection is paused by an administrator; the system uses the network's own DNS.");
    case DDR_ROAM_OFFLINE:
      if (f->nm_lost)
        return g_strdup ("NetworkManager is not running; waiting for it to come back.");
      return g_strdup ("There is no network connection.");
    case DDR_ROAM_TRUSTED:
      if (f->trusted_network)
        return g_strdup_printf ("The network%s is listed in trusted-networks; the system uses "
                                "its own DNS.", on);
      return g_strdup_printf ("The network%s already answers the check domain like the "
                              "ThreatSTOP service (trust-protected-networks); the system uses "
                              "its own DNS.", on);
    case DDR_ROAM_PORTAL:
      return g_strdup_printf ("A captive portal is in the way%s (%s); the system uses the "
                              "network's DNS until you log in.%s", on,
                              f->connectivity == DDR_CONNECTIVITY_PORTAL && !f->portal_seen
                                ? connectivity_text (DDR_CONNECTIVITY_PORTAL)
                                : connectivity_text (0),
                              f->portal_seen && f->portal_no_address
                                ? " The portal gave no usable address." : "");
    case DDR_ROAM_PROTECTED:
      if (f->portal_seen || f->connectivity == DDR_CONNECTIVITY_PORTAL)
        return g_strdup_printf ("The ThreatSTOP service answers%s and the system DNS points at "
                                "the relay, although a captive portal was seen (%s); its login "
                                "page's names go to the network's DNS.%s", on,
                                f->portal_seen ? connectivity_text (0)
                                               : connectivity_text (DDR_CONNECTIVITY_PORTAL),
                                f->portal_seen && f->portal_no_address
                                  ? " The portal gave no usable address." : "");
      return g_strdup_printf ("The ThreatSTOP service answers%s and the system DNS points at the "
                              "relay.", on);
    case DDR_ROAM_UNREACHABLE:
      if (f->service == DDR_CHECK_OK && f->steer_refused)
        return g_strdup_printf ("The system DNS could not be pointed at the relay%s (the "
                                "last error says why); the system uses the network's DNS.", on);
      if (f->service == DDR_CHECK_OK)
        return g_strdup_printf ("The system resolver did not reach the relay after steering%s; "
                                "the system uses the network's DNS.", on);
      return g_strdup_printf ("The ThreatSTOP service does not answer%s; %s", on,
                              f->block ? "DNS queries fail until it does (on-service-unreachable=block)."
                                       : "the system uses the network's DNS until it does "
                                         "(on-service-unreachable=fallback).");
    case DDR_ROAM_PROBING:
      if (f->steering_lost && f->service == DDR_CHECK_OK)
        return g_strdup_printf ("The system DNS settings were changed by another program%s; "
                                "they are pointed at the relay again and checked.", on);
      /* fall through */
    default:
      return g_strdup_printf ("Checking the network%s for a captive portal and the ThreatSTOP "
                              "service.", on);
    }
}
