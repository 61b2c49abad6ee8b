/* A GSource that fires at a deadline kept in a plain field. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef void (*DdrDeadlineFunc) (gpointer user_data);

/* Attached to the thread-default main context; fires func once the deadline
 * (monotonic µs) has passed; -1 = never. Moving the deadline costs a store:
 * unlike g_source_set_ready_time, which writes to the loop's eventfd every
 * time it is called (a syscall per query on the hot path), the deadline is
 * read in prepare(), which the loop runs before every poll. Only for use from
 * the thread that runs the loop. */
GSource *ddr_deadline_source_new (const char *name, DdrDeadlineFunc func, gpointer user_data);
void     ddr_deadline_source_set (GSource *source, gint64 deadline_us);
gint64   ddr_deadline_source_get (GSource *source);
/* Destroy and unref. */
void     ddr_deadline_source_free (GSource *source);

G_END_DECLS
