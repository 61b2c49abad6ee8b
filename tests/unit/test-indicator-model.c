/* The indicator's pure model: every state's icon, words and menu, NeedsAttention after
 * the delay, the notices' order, and hostile PortalUrl and network values. */
#include "config.h"

#include <string.h>

#include "ddr-indicator-model.h"

#define NOW 1700000000u

static DdrIndicatorInput
base (const char *state)
{
  return (DdrIndicatorInput) {
    .running = TRUE, .state = state, .protected_ = g_str_equal (state, "protected"),
    .network = "HotelWiFi", .portal_url = "", .reason = "Why this state.",
    .now = NOW, .attention_after_s = 30, .may_pause = TRUE,
    .unprotected_since = g_str_equal (state, "protected") ? 0 : NOW,
  };
}

typedef struct {
  const char *state;
  DdrLook     look;
  const char *icon;
  gboolean    pause, resume, unprotected;
} StateCase;

static void
test_every_state (void)
{
  static const StateCase cases[] = {
    { "protected",   DDR_LOOK_PROTECTED,   "threatstop-ddr-protected-symbolic",   TRUE,  FALSE, FALSE },
    { "portal",      DDR_LOOK_PORTAL,      "threatstop-ddr-portal-symbolic",      TRUE,  FALSE, TRUE },
    { "unreachable", DDR_LOOK_UNPROTECTED, "threatstop-ddr-unprotected-symbolic", TRUE,  FALSE, TRUE },
    { "offline",     DDR_LOOK_UNPROTECTED, "threatstop-ddr-unprotected-symbolic", TRUE,  FALSE, TRUE },
    { "probing",     DDR_LOOK_UNPROTECTED, "threatstop-ddr-unprotected-symbolic", TRUE,  FALSE, TRUE },
    { "starting",    DDR_LOOK_UNPROTECTED, "threatstop-ddr-unprotected-symbolic", TRUE,  FALSE, TRUE },
    { "paused",      DDR_LOOK_PAUSED,      "threatstop-ddr-paused-symbolic",      FALSE, TRUE,  FALSE },
    { "trusted",     DDR_LOOK_TRUSTED,     "threatstop-ddr-trusted-symbolic",     TRUE,  FALSE, FALSE },
    { "forwarding",  DDR_LOOK_FORWARDING,  "threatstop-ddr-forwarding-symbolic",  FALSE, FALSE, FALSE },
    /* a state added to the daemon later: "not protected", as the XML asks */
    { "quarantined", DDR_LOOK_UNPROTECTED, "threatstop-ddr-unprotected-symbolic", TRUE,  FALSE, TRUE },
    { "",            DDR_LOOK_UNPROTECTED, "threatstop-ddr-unprotected-symbolic", TRUE,  FALSE, TRUE },
  };
  g_autoptr(GHashTable) words = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      DdrIndicatorInput in = base (cases[i].state);
      DdrIndicatorModel m;

      ddr_indicator_model_compute (&in, &m);
      g_test_message ("%s: %s / %s", cases[i].state, m.icon_name, m.state_words);
      g_assert_cmpint (m.look, ==, cases[i].look);
      g_assert_cmpstr (m.icon_name, ==, cases[i].icon);
      g_assert_cmpint (m.show_pause, ==, cases[i].pause);
      g_assert_cmpint (m.show_resume, ==, cases[i].resume);
      g_assert_cmpint (m.unprotected, ==, cases[i].unprotected);
      g_assert_true (m.pause_enabled);
      g_assert_true (m.reprobe_enabled);
      g_assert_null (m.login_url);
      g_assert_null (m.login_label);
      g_assert_cmpstr (m.network, ==, "HotelWiFi");
      g_assert_true (g_str_has_prefix (m.tooltip, m.state_words));
      g_assert_nonnull (strstr (m.tooltip, "\nWhy this state."));
      /* a portal wants the person at once; the rest only after the delay */
      g_assert_cmpstr (m.sni_status, ==, cases[i].look == DDR_LOOK_PORTAL ? "NeedsAttention" : "Active");
      g_hash_table_add (words, g_strdup (m.state_words));
      ddr_indicator_model_clear (&m);
    }
  /* each known state has words of its own (probing and starting share theirs) */
  g_assert_cmpuint (g_hash_table_size (words), ==, 9);
}

static void
test_words_name_the_network (void)
{
  DdrIndicatorInput in = base ("protected");
  DdrIndicatorModel m;

  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpstr (m.state_words, ==, "Protected on HotelWiFi");
  ddr_indicator_model_clear (&m);
  in.network = "";
  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpstr (m.state_words, ==, "Protected");
  ddr_indicator_model_clear (&m);

  in = base ("paused");
  in.paused_until = G_MAXUINT64;
  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpstr (m.state_words, ==, "Protection paused until resumed");
  ddr_indicator_model_clear (&m);
  in.paused_until = NOW + 900;
  ddr_indicator_model_compute (&in, &m);
  g_assert_true (g_str_has_prefix (m.state_words, "Protection paused until "));
  g_assert_cmpuint (strlen (m.state_words), ==, strlen ("Protection paused until 12:34"));
  ddr_indicator_model_clear (&m);
}

static void
test_daemon_stopped (void)
{
  DdrIndicatorInput in = base ("protected");
  DdrIndicatorModel m;

  /* whatever the last properties said: not running is a state of its own */
  in.running = FALSE;
  in.portal_url = "http://login.portal.test/";
  in.unprotected_since = NOW - 5;
  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpint (m.look, ==, DDR_LOOK_STOPPED);
  g_assert_cmpstr (m.icon_name, ==, "threatstop-ddr-stopped-symbolic");
  g_assert_nonnull (strstr (m.state_words, "not running"));
  g_assert_cmpstr (m.tooltip, ==, m.state_words);
  g_assert_null (m.login_url);
  g_assert_false (m.show_pause);
  g_assert_false (m.show_resume);
  g_assert_false (m.reprobe_enabled);
  g_assert_false (m.pause_enabled);
  g_assert_true (m.unprotected);
  g_assert_cmpstr (m.sni_status, ==, "Active");
  g_assert_cmpint (m.attention_in_s, ==, 25);
  ddr_indicator_model_clear (&m);
}

static void
test_attention_after_delay (void)
{
  DdrIndicatorInput in = base ("unreachable");
  DdrIndicatorModel m;

  in.unprotected_since = NOW - 10;
  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpstr (m.sni_status, ==, "Active");
  g_assert_cmpint (m.attention_in_s, ==, 20);
  ddr_indicator_model_clear (&m);

  in.unprotected_since = NOW - 30;
  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpstr (m.sni_status, ==, "NeedsAttention");
  g_assert_cmpint (m.attention_in_s, ==, -1);
  ddr_indicator_model_clear (&m);

  /* unknown since when: counts from now */
  in.unprotected_since = 0;
  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpint (m.attention_in_s, ==, 30);
  ddr_indicator_model_clear (&m);

  /* offline: nothing is resolved, so nothing is unprotected; no attention, no notice */
  in = base ("offline");
  in.unprotected_since = NOW - 3600;
  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpstr (m.sni_status, ==, "Active");
  g_assert_cmpint (m.attention_in_s, ==, -1);
  ddr_indicator_model_clear (&m);

  /* chosen states never ask for attention */
  in = base ("paused");
  in.unprotected_since = NOW - 3600;
  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpstr (m.sni_status, ==, "Active");
  g_assert_cmpint (m.attention_in_s, ==, -1);
  ddr_indicator_model_clear (&m);
}

static void
test_polkit_refuses (void)
{
  DdrIndicatorInput in = base ("protected");
  DdrIndicatorModel m;

  in.may_pause = FALSE;
  ddr_indicator_model_compute (&in, &m);
  g_assert_true (m.show_pause);
  g_assert_false (m.pause_enabled);       /* shown, greyed out */
  g_assert_true (m.reprobe_enabled);      /* Reprobe needs no authorisation */
  ddr_indicator_model_clear (&m);
}

static void
test_login_item (void)
{
  static const char *const good[] = {
    "http://login.portal.test/", "https://portal.example/login?next=%2F&a=b",
    "HTTP://Portal.Example:8080/x", "http://192.0.2.1/", "http://[2001:db8::1]/",
    "https://xn--hotel-wlan-zxb.example/ü",
  };
  DdrIndicatorModel m;

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      DdrIndicatorInput in = base ("portal");
      in.portal_url = good[i];
      ddr_indicator_model_compute (&in, &m);
      g_assert_cmpstr (m.login_url, ==, good[i]);
      g_assert_cmpstr (m.login_label, ==, "Log in to HotelWiFi…");
      ddr_indicator_model_clear (&m);
    }
  /* a portal the service outlived (state protected, PortalUrl kept): still offered */
  {
    DdrIndicatorInput in = base ("protected");
    in.portal_url = good[0];
    in.network = "";
    ddr_indicator_model_compute (&in, &m);
    g_assert_cmpstr (m.login_label, ==, "Log in to the network…");
    ddr_indicator_model_clear (&m);
  }
}

static void
test_hostile_portal_url (void)
{
  g_autofree char *huge = NULL;
  g_autofree char *at_limit = NULL;
  g_autofree char *over_limit = NULL;
  const char *bad[] = {
    "javascript:alert(1)", "JavaScript://%0aalert(1)", "file:///etc/passwd",
    "data:text/html,<script>alert(1)</script>", "ftp://portal.example/",
    "vbscript:msgbox", "about:blank", "http://", "http:///path-only", "https:?x",
    "//portal.example/", "portal.example/login", "", " http://portal.example/",
    "http://a/\xff\xfe", "http://a/\xc3", "http://\xed\xa0\x80/",  /* invalid UTF-8 */
    "http://a/\x01", "http://a/line\nbreak", "http://a/\r", "http://a/\t",
    "http://a/\x7f", "http://a/\xc2\x85", "http://a/\x1b[31m",
    NULL, NULL, NULL,
  };
  gsize n = G_N_ELEMENTS (bad) - 3;

  huge = g_strnfill (60 * 1024, 'a');
  memcpy (huge, "http://a/", 9);
  at_limit = g_strnfill (2048, 'b');
  memcpy (at_limit, "http://a/", 9);
  over_limit = g_strnfill (2049, 'b');
  memcpy (over_limit, "http://a/", 9);
  bad[n++] = huge;
  bad[n++] = over_limit;
  bad[n++] = NULL;
  g_assert_true (ddr_indicator_url_usable (at_limit));

  for (gsize i = 0; i < n; i++)
    {
      DdrIndicatorInput in = base ("portal");
      DdrIndicatorModel m;

      g_assert_false (ddr_indicator_url_usable (bad[i]));
      in.portal_url = bad[i];
      ddr_indicator_model_compute (&in, &m);
      g_assert_null (m.login_url);
      g_assert_null (m.login_label);
      g_assert_cmpint (m.look, ==, DDR_LOOK_PORTAL);
      g_assert_true (g_utf8_validate (m.tooltip, -1, NULL));
      ddr_indicator_model_clear (&m);
    }
}

static void
test_hostile_network_name (void)
{
  DdrIndicatorInput in = base ("portal");
  DdrIndicatorModel m;
  g_autofree char *long_name = g_strnfill (300, 'W');
  g_autofree char *t = NULL;

  in.network = "Evil\nNet\x1b[2J\xe2\x80\xae" "txt.exe";   /* newline, escape, RLO */
  in.portal_url = "http://login.portal.test/";
  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpstr (m.network, ==, "Evil Net [2J txt.exe");
  g_assert_cmpstr (m.login_label, ==, "Log in to Evil Net [2J txt.exe…");
  g_assert_null (strchr (m.state_words, '\n'));
  ddr_indicator_model_clear (&m);

  in.network = long_name;
  ddr_indicator_model_compute (&in, &m);
  g_assert_cmpuint (g_utf8_strlen (m.network, -1), ==, DDR_INDICATOR_NETWORK_MAX + 1);
  g_assert_true (g_str_has_suffix (m.network, "…"));
  ddr_indicator_model_clear (&m);

  t = ddr_indicator_display_text ("caf\xc3\xa9 \xff<b>", 10);
  g_assert_true (g_utf8_validate (t, -1, NULL));
  g_assert_true (g_str_has_prefix (t, "café "));
  g_assert_true (g_str_has_suffix (t, "<b>"));     /* markup escaping is the output's job */
  g_clear_pointer (&t, g_free);
  t = ddr_indicator_display_text (NULL, 10);
  g_assert_cmpstr (t, ==, "");
}

/* Feeds states in order; returns the notices shown, as letters (P, O, B, - for none,
 * F for a forget). */
static char *
notices (const char *const *states, const guint64 *since, const char *const *urls)
{
  GString *out = g_string_new (NULL);
  DdrNotice last = DDR_NOTICE_NONE;
  gboolean offered = FALSE;

  for (gsize i = 0; states[i]; i++)
    {
      DdrIndicatorInput in = base (states[i]);
      DdrIndicatorModel m;
      gboolean forget;
      DdrNotice n;

      if (g_str_equal (states[i], "stopped"))
        in.running = FALSE;
      in.unprotected_since = since[i];
      in.portal_url = urls ? urls[i] : "";
      ddr_indicator_model_compute (&in, &m);
      n = ddr_indicator_notice_next (last, offered, &m, &forget);
      if (forget)
        last = DDR_NOTICE_NONE;
      if (n != DDR_NOTICE_NONE)
        {
          last = n;
          offered = m.login_url != NULL;
        }
      g_string_append_c (out, "-POB"[n]);
      if (forget)
        g_string_append_c (out, 'F');
      ddr_indicator_model_clear (&m);
    }
  return g_string_free (out, FALSE);
}

static void
test_notices (void)
{
  static const char *const story[] = {
    "protected", "probing", "portal", "portal", "protected", "protected",
    "unreachable", "unreachable", "unreachable", "protected", "stopped", "stopped",
    "protected", NULL,
  };
  static const guint64 since[] = {
    0, NOW - 1, NOW - 2, NOW - 60, 0, 0,
    NOW - 5, NOW - 31, NOW - 90, 0, NOW - 1, NOW - 40,
    0,
  };
  static const char *const offline[] = { "protected", "offline", "offline", "protected", NULL };
  static const guint64 offline_since[] = { 0, NOW - 40, NOW - 600, 0 };
  static const char *const paused[] = { "unreachable", "paused", "protected", "trusted", NULL };
  static const guint64 paused_since[] = { NOW - 40, NOW - 50, 0, NOW, 0 };
  static const char *const portal[] = { "portal", "portal", "portal", "portal", "probing",
                                        "portal", "unreachable", NULL };
  static const char *const portal_urls[] = { "", "http://login.portal.test/",
                                             "http://login.portal.test/", "javascript:x", "",
                                             "http://login.portal.test/", "" };
  static const guint64 portal_since[] = { NOW, NOW, NOW, NOW, NOW - 60, NOW - 60, NOW - 60 };
  g_autofree char *a = notices (story, since, NULL);
  g_autofree char *b = notices (paused, paused_since, NULL);
  g_autofree char *c = notices (portal, portal_since, portal_urls);
  g_autofree char *d = notices (offline, offline_since, NULL);

  /* a portal at once, "protected again" after it; "off" only after 30 s; never twice */
  g_assert_cmpstr (a, ==, "--P-B--O-B-OB");
  /* a pause forgets the warning: no "protected again" after resuming */
  g_assert_cmpstr (b, ==, "O-F--");
  /* NM's verdict first, the portal's address a moment later: shown again, with the
   * login; never for a hostile address; a re-check of the portal (probing) keeps the
   * login notice, an unreachable service after it does not */
  g_assert_cmpstr (c, ==, "PP----O");
  /* a laptop without a network is told nothing, and so no "protected again" after it */
  g_assert_cmpstr (d, ==, "----");
}

int
main (int argc, char **argv)
{
  g_setenv ("TZ", "UTC", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/indicator-model/every-state", test_every_state);
  g_test_add_func ("/indicator-model/words-name-the-network", test_words_name_the_network);
  g_test_add_func ("/indicator-model/daemon-stopped", test_daemon_stopped);
  g_test_add_func ("/indicator-model/attention-after-delay", test_attention_after_delay);
  g_test_add_func ("/indicator-model/polkit-refuses", test_polkit_refuses);
  g_test_add_func ("/indicator-model/login-item", test_login_item);
  g_test_add_func ("/indicator-model/hostile-portal-url", test_hostile_portal_url);
  g_test_add_func ("/indicator-model/hostile-network-name", test_hostile_network_name);
  g_test_add_func ("/indicator-model/notices", test_notices);
  return g_test_run ();
}
