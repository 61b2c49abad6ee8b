/* Unit tests for the one retry back-off rule (ddr-backoff.c). */
#include "ddr-backoff.h"

/* The schedules the daemon uses, from "not backing off". */
static void
test_schedules (void)
{
  static const struct {
    guint first, max;
    guint expect[9];
  } cases[] = {
    /* upstreams and failed steering calls: 1 s doubling to 1 min */
    { 1000, 60000, { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000 } },
    /* the service re-probe after its first 2 minutes: 1 s doubling to 60 s (the first
     * 2 minutes cap at 10 s, ddr-roam-schedule.c); a long cap for the doubling itself */
    { 1000, 300000, { 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000 } },
    /* unproved steering: 30 s doubling to 5 min */
    { 30000, 300000, { 30000, 60000, 120000, 240000, 300000, 300000, 300000, 300000, 300000 } },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      guint b = 0;

      for (guint i = 0; i < G_N_ELEMENTS (cases[c].expect); i++)
        {
          b = ddr_backoff_next (b, cases[c].first, cases[c].max);
          g_assert_cmpuint (b, ==, cases[c].expect[i]);
        }
    }
}

static void
test_edges (void)
{
  /* From another schedule: below the first delay starts there, above the cap comes down. */
  g_assert_cmpuint (ddr_backoff_next (2000, 30000, 300000), ==, 30000);
  g_assert_cmpuint (ddr_backoff_next (300000, 1000, 60000), ==, 60000);
  g_assert_cmpuint (ddr_backoff_next (45000, 1000, 60000), ==, 60000);
  g_assert_cmpuint (ddr_backoff_next (29999, 1000, 60000), ==, 59998);
  /* No overflow, and a cap below the first delay is the first delay. */
  g_assert_cmpuint (ddr_backoff_next (G_MAXUINT, 1000, G_MAXUINT), ==, G_MAXUINT);
  g_assert_cmpuint (ddr_backoff_next (G_MAXUINT / 2 + 1, 1, G_MAXUINT), ==, G_MAXUINT);
  g_assert_cmpuint (ddr_backoff_next (0, 5000, 10), ==, 5000);
  g_assert_cmpuint (ddr_backoff_next (5000, 5000, 10), ==, 5000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/backoff/schedules", test_schedules);
  g_test_add_func ("/backoff/edges", test_edges);
  return g_test_run ();
}
