/* Unit tests for the roaming checks' re-probe schedule (ddr-roam-schedule.c, issue 12). */
#include "ddr-roam-schedule.h"

/* Follows a schedule from the first failure: the times (ms after it) of the probes. */
static GArray *
probe_times (DdrReprobeKind kind, gint64 until_ms)
{
  GArray *times = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 t = 0;
  guint delay = 0;

  while (t < until_ms)
    {
      delay = ddr_roam_reprobe_delay (kind, delay, t);
      t += delay;
      g_array_append_val (times, t);
    }
  return times;
}

/* The longest a service (or a login) coming back at any moment in [from, to) waits
 * for the next probe. */
static gint64
worst_wait (GArray *times, gint64 from, gint64 to)
{
  gint64 worst = 0, prev = 0;

  for (guint i = 0; i < times->len; i++)
    {
      gint64 t = g_array_index (times, gint64, i);

      if (t > from && prev < to)
        worst = MAX (worst, t - MAX (prev, from));
      prev = t;
    }
  return worst;
}

static void
test_service (void)
{
  static const guint expect[] = { 1000, 2000, 4000, 8000, 10000, 10000 };
  g_autoptr(GArray) times = probe_times (DDR_REPROBE_SERVICE, 60 * 60 * 1000);
  guint d = 0;
  gint64 t = 0;

  for (guint i = 0; i < G_N_ELEMENTS (expect); i++)
    {
      d = ddr_roam_reprobe_delay (DDR_REPROBE_SERVICE, d, t);
      g_assert_cmpuint (d, ==, expect[i]);
      t += d;
    }
  /* A service back after a short outage (17 s, 72 s) is used again within 10 s. */
  g_assert_cmpint (worst_wait (times, 0, DDR_REPROBE_EAGER_MS), <=, 10000);
  g_assert_cmpint (worst_wait (times, 17000, 17001), <=, 10000);
  g_assert_cmpint (worst_wait (times, 72000, 72001), <=, 10000);
  /* Then it backs off, to at most a minute (never the old 5 minutes). */
  g_assert_cmpint (worst_wait (times, DDR_REPROBE_EAGER_MS + 10000, 60 * 60 * 1000), ==, 60000);
  g_assert_cmpuint (ddr_roam_reprobe_delay (DDR_REPROBE_SERVICE, 10000, 130000), ==, 20000);
  g_assert_cmpuint (ddr_roam_reprobe_delay (DDR_REPROBE_SERVICE, 40000, 300000), ==, 60000);
  g_assert_cmpuint (ddr_roam_reprobe_delay (DDR_REPROBE_SERVICE, 60000, 3600000), ==, 60000);
  /* An idle hour on a dead network: about a minute apart after the first two. */
  g_assert_cmpuint (times->len, <=, 25 + 60);
}

static void
test_portal (void)
{
  g_autoptr(GArray) times = probe_times (DDR_REPROBE_PORTAL, 60 * 60 * 1000);
  guint d = 0;

  /* Every 3 s for the first 2 minutes: a login is seen within 3 s. */
  for (gint64 t = 0; t < DDR_REPROBE_EAGER_MS; t += d)
    {
      d = ddr_roam_reprobe_delay (DDR_REPROBE_PORTAL, d, t);
      g_assert_cmpuint (d, ==, 3000);
    }
  g_assert_cmpint (worst_wait (times, 0, DDR_REPROBE_EAGER_MS), ==, 3000);
  /* Then capped: doubling to a minute. */
  g_assert_cmpuint (ddr_roam_reprobe_delay (DDR_REPROBE_PORTAL, 3000, 121000), ==, 6000);
  g_assert_cmpuint (ddr_roam_reprobe_delay (DDR_REPROBE_PORTAL, 48000, 200000), ==, 60000);
  g_assert_cmpint (worst_wait (times, 10 * 60 * 1000, 60 * 60 * 1000), ==, 60000);
}

static void
test_reset (void)
{
  /* A fresh start (a network event: last 0, lasted 0) is the first delay again. */
  g_assert_cmpuint (ddr_roam_reprobe_delay (DDR_REPROBE_SERVICE, 0, 0), ==, 1000);
  g_assert_cmpuint (ddr_roam_reprobe_delay (DDR_REPROBE_PORTAL, 0, 0), ==, 3000);
  /* A wait from the late phase comes back down when the eager phase starts over. */
  g_assert_cmpuint (ddr_roam_reprobe_delay (DDR_REPROBE_SERVICE, 60000, 0), ==, 10000);
  g_assert_cmpuint (ddr_roam_reprobe_delay (DDR_REPROBE_PORTAL, 60000, 0), ==, 3000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/roam-schedule/service", test_service);
  g_test_add_func ("/roam-schedule/portal", test_portal);
  g_test_add_func ("/roam-schedule/reset", test_reset);
  return g_test_run ();
}
