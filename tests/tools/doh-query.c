/* doh-query: send DNS queries through DdrUpstreamPool on a main loop (a hand-test driver). */
#include "config.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddr-dns-wire.h"
#include "ddr-upstream-pool.h"

static char   **opt_urls;
static char   **opt_bootstrap;
static char    *opt_ca_file;
static char    *opt_method;
static char    *opt_state_dir;
static int      opt_count = 1;
static int      opt_timeout_ms = 2500;
static int      opt_interval_ms;
static gboolean opt_unique;
static gboolean opt_quiet;
static gboolean opt_drop;
static int      opt_window;

static GOptionEntry entries[] = {
  { "url", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_urls, "DoH URL (repeat for more upstreams, in priority order)", "URL" },
  { "bootstrap", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_bootstrap, "IP address of the URL hosts (repeatable)", "IP" },
  { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_ca_file, "CA bundle", "FILE" },
  { "method", 0, 0, G_OPTION_ARG_STRING, &opt_method, "get or post (default post)", "METHOD" },
  { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_state_dir, "Where last-good addresses are kept", "DIR" },
  { "count", 0, 0, G_OPTION_ARG_INT, &opt_count, "Number of queries (default 1)", "N" },
  { "timeout-ms", 0, 0, G_OPTION_ARG_INT, &opt_timeout_ms, "Per-query timeout (default 2500)", "MS" },
  { "interval-ms", 0, 0, G_OPTION_ARG_INT, &opt_interval_ms, "Send one query every MS instead of all at once", "MS" },
  { "unique", 0, 0, G_OPTION_ARG_NONE, &opt_unique, "Prefix q<i>. to the name of each query", NULL },
  { "drop-connections", 0, 0, G_OPTION_ARG_NONE, &opt_drop, "Drop connections right after sending all queries", NULL },
  { "window", 0, 0, G_OPTION_ARG_INT, &opt_window, "Keep at most W queries outstanding (closed loop)", "W" },
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet, "Only print the summary", NULL },
  { NULL }
};

typedef struct {
  DdrUpstreamPool *pool;
  GMainLoop       *loop;
  const char      *name;
  guint16          qtype;
  int              sent;
  int              done;
  guint            by_status[DDR_DOH_CANCELLED + 1];
  gint64           t0;
} Run;

typedef struct {
  Run   *run;
  int    index;
  gint64 sent_at;
} Pending;

static guint16
parse_type (const char *text)
{
  static const struct { const char *name; guint16 type; } types[] = {
    { "A", DDR_DNS_TYPE_A }, { "NS", DDR_DNS_TYPE_NS }, { "CNAME", DDR_DNS_TYPE_CNAME },
    { "SOA", DDR_DNS_TYPE_SOA }, { "PTR", DDR_DNS_TYPE_PTR }, { "TXT", DDR_DNS_TYPE_TXT },
    { "AAAA", DDR_DNS_TYPE_AAAA }, { "ANY", DDR_DNS_TYPE_ANY },
  };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_ascii_strcasecmp (text, types[i].name) == 0)
      return types[i].type;
  return (guint16) strtoul (text, NULL, 10);
}

/* ID 0, RD, one question, an OPT record padded to a 128-byte block (RFC 8467). */
static gsize
build_query (const char *name, guint16 qtype, guint8 *buf, gsize size)
{
  gsize off = DDR_DNS_HEADER_LEN;
  gsize name_len;
  gsize pad;

  memset (buf, 0, size);
  ddr_dns_put16 (buf + 2, DDR_DNS_FLAG_RD);
  ddr_dns_put16 (buf + 4, 1);
  ddr_dns_put16 (buf + 10, 1);
  if (!ddr_dns_name_from_string (name, buf + off, &name_len))
    return 0;
  off += name_len;
  ddr_dns_put16 (buf + off, qtype);
  ddr_dns_put16 (buf + off + 2, DDR_DNS_CLASS_IN);
  off += 4;
  /* OPT: root, type, udp size, ext rcode/version/flags, rdlen, padding option */
  buf[off++] = 0;
  ddr_dns_put16 (buf + off, DDR_DNS_TYPE_OPT);
  ddr_dns_put16 (buf + off + 2, 1232);
  off += 8;
  pad = off + 2 + 4;
  pad = ((pad + 127) / 128) * 128 - pad;
  ddr_dns_put16 (buf + off, (guint16) (4 + pad));
  off += 2;
  ddr_dns_put16 (buf + off, DDR_DNS_OPT_PADDING);
  ddr_dns_put16 (buf + off + 2, (guint16) pad);
  off += 4 + pad;
  return off;
}

static void send_one (Run *run);

static void
on_done (DdrDohStatus status, guint8 *answer, gsize len, const DdrDnsInfo *rinfo,
         guint32 age_s, gpointer user_data)
{
  Pending *p = user_data;
  Run *run = p->run;
  double ms = (g_get_monotonic_time () - p->sent_at) / 1000.0;

  run->by_status[status]++;
  run->done++;
  if (!opt_quiet)
    {
      if (status == DDR_DOH_OK)
        printf ("#%d %s rcode=%u answers=%u age=%u bytes=%" G_GSIZE_FORMAT " %.2f ms\n",
                p->index, ddr_doh_status_to_string (status), DDR_DNS_RCODE (rinfo->flags),
                rinfo->ancount, age_s, len, ms);
      else
        printf ("#%d %s %.2f ms\n", p->index, ddr_doh_status_to_string (status), ms);
      fflush (stdout);
    }
  g_free (p);
  if (opt_window > 0 && opt_interval_ms <= 0 && run->sent < opt_count)
    send_one (run);
  if (run->done == opt_count)
    g_main_loop_quit (run->loop);
}

static void
send_one (Run *run)
{
  guint8 buf[512];
  g_autofree char *name = NULL;
  DdrDnsInfo qinfo;
  gsize len;
  Pending *p;

  name = opt_unique ? g_strdup_printf ("q%x.%s", run->sent, run->name) : g_strdup (run->name);
  len = build_query (name, run->qtype, buf, sizeof buf);
  if (len == 0 || ddr_dns_parse_query (buf, len, &qinfo) != DDR_DNS_OK)
    g_error ("cannot build a query for %s", name);
  p = g_new0 (Pending, 1);
  p->run = run;
  p->index = run->sent++;
  p->sent_at = g_get_monotonic_time ();
  ddr_upstream_pool_send (run->pool, buf, len, &qinfo, on_done, p);
}

static gboolean
send_tick (gpointer user_data)
{
  Run *run = user_data;

  send_one (run);
  return run->sent < opt_count ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) ctx = g_option_context_new ("NAME [TYPE]");
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrUpstreamPool) pool = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  DdrUpstreamConfig config = { 0 };
  DdrUpstreamInfo *info;
  guint n_info;
  Run run = { 0 };
  double secs;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("doh-query: %s\n", error->message);
      return 2;
    }
  if (argc < 2 || argc > 3 || opt_count < 1 || opt_timeout_ms < 1)
    {
      g_printerr ("usage: doh-query --url URL [--bootstrap IP] [--ca-file F] [--method get|post] "
                  "[--count N] [--timeout-ms N] [--interval-ms N] [--unique] NAME [TYPE]\n");
      return 2;
    }

  config.urls = opt_urls;
  config.bootstrap = opt_bootstrap;
  config.ca_file = opt_ca_file;
  config.timeout_ms = (guint) opt_timeout_ms;
  config.state_dir = opt_state_dir;
  if (!opt_method || g_ascii_strcasecmp (opt_method, "post") == 0)
    config.method = DDR_DOH_METHOD_POST;
  else if (g_ascii_strcasecmp (opt_method, "get") == 0)
    config.method = DDR_DOH_METHOD_GET;
  else
    {
      g_printerr ("doh-query: method \"%s\" is not get or post\n", opt_method);
      return 2;
    }

  pool = ddr_upstream_pool_new (&config, &error);
  if (!pool)
    {
      g_printerr ("doh-query: %s\n", error->message);
      return 2;
    }

  loop = g_main_loop_new (NULL, FALSE);
  run.pool = pool;
  run.loop = loop;
  run.name = argv[1];
  run.qtype = argc > 2 ? parse_type (argv[2]) : DDR_DNS_TYPE_A;
  run.t0 = g_get_monotonic_time ();
  if (opt_interval_ms > 0)
    {
      send_one (&run);
      if (opt_count > 1)
        g_timeout_add (opt_interval_ms, send_tick, &run);
    }
  else
    {
      while (run.sent < opt_count && (opt_window <= 0 || run.sent < opt_window))
        send_one (&run);
      if (opt_drop)
        ddr_upstream_pool_drop_connections (pool);
    }
  g_main_loop_run (loop);
  secs = (g_get_monotonic_time () - run.t0) / 1e6;

  printf ("%d queries in %.3f s (%.0f/s):", opt_count, secs, opt_count / secs);
  for (guint s = 0; s < G_N_ELEMENTS (run.by_status); s++)
    if (run.by_status[s])
      printf (" %s=%u", ddr_doh_status_to_string (s), run.by_status[s]);
  printf ("\n");
  info = ddr_upstream_pool_get_info (pool, &n_info);
  for (guint i = 0; i < n_info; i++)
    printf ("upstream %u %s healthy=%d queries=%" G_GUINT64_FORMAT " errors=%" G_GUINT64_FORMAT
            " connects=%" G_GUINT64_FORMAT "\n", i, info[i].url, info[i].healthy,
            info[i].queries, info[i].errors, info[i].connects);
  g_free (info);
  return run.by_status[DDR_DOH_OK] == (guint) opt_count ? 0 : 1;
}
