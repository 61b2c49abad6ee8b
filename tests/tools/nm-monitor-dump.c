/* nm-monitor-dump: runs DdrNmMonitor and prints one JSON line per "changed" (for the integration test). */
#include "config.h"

#include <glib-unix.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <stdio.h>

#include "ddr-admin-json.h"
#include "ddr-nm-monitor.h"

static const char *const connectivity_names[] = { "unknown", "none", "portal", "limited", "full" };

static GVariant *
connection_variant (const DdrNetConnection *c)
{
  GVariantDict d;

  g_variant_dict_init (&d, NULL);
  if (c->id)
    g_variant_dict_insert (&d, "id", "s", c->id);
  if (c->uuid)
    g_variant_dict_insert (&d, "uuid", "s", c->uuid);
  g_variant_dict_insert_value (&d, "servers",
                               g_variant_new_strv ((const char *const *) c->servers, -1));
  g_variant_dict_insert_value (&d, "domains",
                               g_variant_new_strv ((const char *const *) c->domains, -1));
  return g_variant_dict_end (&d);
}

static void
print_snapshot (DdrNmMonitor *monitor, const char *event)
{
  g_autoptr(DdrNetSnapshot) s = ddr_nm_monitor_snapshot (monitor);
  GVariantDict d;
  GVariantBuilder vpns;
  g_autoptr(GVariant) v = NULL;
  g_autofree char *json = NULL;

  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "event", "s", event);
  g_variant_dict_insert (&d, "ready", "b", ddr_nm_monitor_is_ready (monitor));
  g_variant_dict_insert (&d, "nm_running", "b", s->nm_running);
  g_variant_dict_insert (&d, "have_primary", "b", s->have_primary);
  if (s->have_primary)
    g_variant_dict_insert_value (&d, "primary", connection_variant (&s->primary));
  if (s->primary_type)
    g_variant_dict_insert (&d, "primary_type", "s", s->primary_type);
  if (s->primary_iface)
    g_variant_dict_insert (&d, "primary_iface", "s", s->primary_iface);
  g_variant_dict_insert (&d, "connectivity", "s",
                         (guint) s->connectivity < G_N_ELEMENTS (connectivity_names)
                           ? connectivity_names[s->connectivity] : "?");
  g_variant_dict_insert (&d, "check_available", "b", s->check_available);
  if (s->check_host)
    g_variant_dict_insert (&d, "check_host", "s", s->check_host);
  g_variant_builder_init (&vpns, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < s->vpns->len; i++)
    g_variant_builder_add_value (&vpns, connection_variant (s->vpns->pdata[i]));
  g_variant_dict_insert_value (&d, "vpns", g_variant_builder_end (&vpns));
  v = g_variant_ref_sink (g_variant_dict_end (&d));
  json = ddr_admin_json_string (v);
  printf ("%s\n", json);
  fflush (stdout);
}

static void
on_changed (DdrNmMonitor *monitor, gpointer user_data)
{
  print_snapshot (monitor, "changed");
}

/* stdin commands: "recheck" asks NM to re-check connectivity, "snapshot" prints the
 * current snapshot; end of input quits. */
static void
on_line (GObject *source, GAsyncResult *res, gpointer user_data)
{
  DdrNmMonitor *monitor = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                                                res, NULL, &error);

  if (line == NULL)
    {
      g_main_loop_quit (g_object_get_data (G_OBJECT (monitor), "loop"));
      return;
    }
  g_strstrip (line);
  if (g_str_equal (line, "recheck"))
    ddr_nm_monitor_recheck (monitor);
  else if (g_str_equal (line, "snapshot"))
    print_snapshot (monitor, "snapshot");
  else if (*line)
    g_printerr ("unknown command: %s (expected recheck or snapshot)\n", line);
  g_data_input_stream_read_line_async (G_DATA_INPUT_STREAM (source), G_PRIORITY_DEFAULT, NULL,
                                       on_line, monitor);
}

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(DdrNmMonitor) monitor = NULL;
  g_autoptr(GInputStream) in = g_unix_input_stream_new (0, FALSE);
  g_autoptr(GDataInputStream) lines = g_data_input_stream_new (in);

  /* stdout carries the JSON lines only */
  g_log_writer_default_set_use_stderr (TRUE);
  if (argc > 1)
    {
      g_printerr ("usage: %s (no arguments; commands on stdin: recheck, snapshot)\n", argv[0]);
      return 2;
    }
  monitor = ddr_nm_monitor_new ();
  g_object_set_data (G_OBJECT (monitor), "loop", loop);
  g_signal_connect (monitor, "changed", G_CALLBACK (on_changed), NULL);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_data_input_stream_read_line_async (lines, G_PRIORITY_DEFAULT, NULL, on_line, monitor);
  g_main_loop_run (loop);
  return 0;
}
