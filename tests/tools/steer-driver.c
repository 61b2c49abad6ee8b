/* Test driver for the steering library: one DdrSteer, commands on stdin (on, off, restore,
 * losses: how many "lost" signals came, and the last reason). */
#include <stdio.h>
#include <string.h>

#include "ddr-steer.h"

typedef struct {
  DdrSteer *steer;
  const char *root;
  const char *state_dir;
  GDBusConnection *bus;
  GMainLoop *loop;
  guint losses;
  char *lost_why;
} Driver;

static void
on_lost (DdrSteer *steer, const char *why, gpointer user_data)
{
  Driver *d = user_data;

  d->losses++;
  g_free (d->lost_why);
  d->lost_why = g_strdup (why);
  g_message ("steering lost: %s", why);
}

static void
reply (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static void
reply (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
  fflush (stdout);
}

static void
set_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree char *what = user_data;
  g_autoptr(GError) error = NULL;

  if (ddr_steer_set_finish (DDR_STEER (source), result, &error))
    reply ("ok %s", what);
  else
    reply ("error %s: %s", what, error->message);
}

static gboolean
on_stdin (GIOChannel *channel, GIOCondition condition, gpointer user_data)
{
  Driver *d = user_data;
  g_autofree char *line = NULL;
  g_autoptr(GError) error = NULL;

  if (g_io_channel_read_line (channel, &line, NULL, NULL, &error) != G_IO_STATUS_NORMAL)
    {
      g_main_loop_quit (d->loop);
      return G_SOURCE_REMOVE;
    }
  g_strstrip (line);
  if (g_str_equal (line, "on") || g_str_equal (line, "off"))
    ddr_steer_set_async (d->steer, g_str_equal (line, "on"), NULL, set_done, g_strdup (line));
  else if (g_str_equal (line, "restore"))
    {
      g_autoptr(GString) report = g_string_new (NULL);
      gboolean ok = ddr_steer_restore_all (d->bus, d->root, d->state_dir, report, &error);

      g_strdelimit (report->str, "\n", '|');
      reply ("%s restore: %s%s", ok ? "ok" : "error", report->str, ok ? "" : error->message);
    }
  else if (g_str_equal (line, "losses"))
    reply ("losses %u %s", d->losses, d->lost_why ? d->lost_why : "");
  else if (g_str_equal (line, "quit"))
    g_main_loop_quit (d->loop);
  else
    reply ("error %s: unknown command", line);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *backend = NULL;
  g_autofree char *root = NULL;
  g_autofree char *state_dir = NULL;
  GOptionEntry entries[] = {
    { "backend", 0, 0, G_OPTION_ARG_STRING, &backend, "auto, networkmanager, ...", "B" },
    { "root", 0, 0, G_OPTION_ARG_FILENAME, &root, "root prefix", "DIR" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir, "state directory", "DIR" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOChannel) in = NULL;
  Driver d = { 0 };

  /* stdout carries the answers; log lines go to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || !state_dir)
    {
      g_printerr ("steer-driver: %s\n", error ? error->message : "--state-dir is required");
      return 2;
    }
  d.root = root ? root : "";
  d.state_dir = state_dir;
  d.bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, NULL);
  d.steer = ddr_steer_new (backend ? backend : "auto", d.bus, d.root, d.state_dir, &error);
  if (!d.steer)
    {
      reply ("error new: %s", error->message);
      return 1;
    }
  g_signal_connect (d.steer, "lost", G_CALLBACK (on_lost), &d);
  reply ("backend %s", ddr_steer_get_backend (d.steer));
  d.loop = g_main_loop_new (NULL, FALSE);
  in = g_io_channel_unix_new (0);
  g_io_add_watch (in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &d);
  g_main_loop_run (d.loop);
  g_object_unref (d.steer);
  g_clear_object (&d.bus);
  g_main_loop_unref (d.loop);
  g_free (d.lost_why);
  return 0;
}
