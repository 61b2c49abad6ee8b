/* A GSource that fires at a deadline kept in a plain field (see the header for why). */
#include "config.h"

#include "ddr-deadline-source.h"

typedef struct {
  GSource         source;
  gint64          deadline;
  DdrDeadlineFunc func;
  gpointer        user_data;
} DdrDeadlineSource;

static gboolean
deadline_prepare (GSource *source, gint *timeout)
{
  DdrDeadlineSource *d = (DdrDeadlineSource *) source;
  gint64 now;

  if (d->deadline < 0)
    {
      *timeout = -1;
      return FALSE;
    }
  now = g_source_get_time (source);
  if (now >= d->deadline)
    {
      *timeout = 0;
      return TRUE;
    }
  /* Round up: waking a millisecond early would only mean polling again. */
  *timeout = (gint) MIN ((d->deadline - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
deadline_check (GSource *source)
{
  DdrDeadlineSource *d = (DdrDeadlineSource *) source;

  return d->deadline >= 0 && g_source_get_time (source) >= d->deadline;
}

static gboolean
deadline_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  DdrDeadlineSource *d = (DdrDeadlineSource *) source;

  d->deadline = -1;
  d->func (d->user_data);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs deadline_funcs = {
  .prepare = deadline_prepare,
  .check = deadline_check,
  .dispatch = deadline_dispatch,
};

GSource *
ddr_deadline_source_new (const char *name, DdrDeadlineFunc func, gpointer user_data)
{
  GSource *source = g_source_new (&deadline_funcs, sizeof (DdrDeadlineSource));
  DdrDeadlineSource *d = (DdrDeadlineSource *) source;

  d->deadline = -1;
  d->func = func;
  d->user_data = user_data;
  g_source_set_static_name (source, name);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

void
ddr_deadline_source_set (GSource *source, gint64 deadline_us)
{
  ((DdrDeadlineSource *) source)->deadline = deadline_us;
}

gint64
ddr_deadline_source_get (GSource *source)
{
  return ((DdrDeadlineSource *) source)->deadline;
}

void
ddr_deadline_source_free (GSource *source)
{
  g_source_destroy (source);
  g_source_unref (source);
}
