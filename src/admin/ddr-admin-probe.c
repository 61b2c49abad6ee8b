/* install's endpoint test: one DoH query straight to the URL (the vendor's curl --doh-url step). */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ddr-admin-probe.h"
#include "ddr-dns-edit.h"
#include "ddr-upstream-pool.h"

#define PROBE_TIMEOUT_MS 5000

typedef struct {
  gboolean     done;
  DdrDohStatus status;
  int          rcode;
  char        *address;
} Probe;

static void
on_done (DdrDohStatus status, guint8 *answer, gsize len, const DdrDnsInfo *rinfo,
         guint32 age_s, gpointer user_data)
{
  Probe *p = user_data;
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;

  p->done = TRUE;
  p->status = status;
  if (status != DDR_DOH_OK)
    return;
  p->rcode = DDR_DNS_RCODE (rinfo->flags);
  ddr_dns_record_iter_init (&iter, answer, len);
  while (!p->address && ddr_dns_record_iter_next (&iter, &rec))
    if (rec.section == DDR_DNS_SECTION_ANSWER && rec.type == DDR_DNS_TYPE_A && rec.rdlength == 4)
      {
        g_autoptr(GInetAddress) a = g_inet_address_new_from_bytes (answer + rec.rdata,
                                                                  G_SOCKET_FAMILY_IPV4);
        p->address = g_inet_address_to_string (a);
      }
}

gboolean
ddr_admin_doh_probe (const DdrInstallConfig *c, const char *name, char **address,
                     GError **error)
{
  char *urls[] = { c->url, NULL };
  DdrUpstreamConfig uc = {
    .urls = urls, .bootstrap = c->bootstrap, .ca_file = c->ca_file,
    .timeout_ms = PROBE_TIMEOUT_MS, .method = DDR_DOH_METHOD_POST,
  };
  g_autoptr(DdrUpstreamPool) pool = NULL;
  guint8 query[512] = { 0 };
  gsize name_len = 0, len;
  DdrDnsInfo qinfo;
  Probe p = { 0 };

  if (!ddr_dns_name_from_string (name, query + DDR_DNS_HEADER_LEN, &name_len))
    return FALSE;
  ddr_dns_put16 (query + 2, DDR_DNS_FLAG_RD);
  ddr_dns_put16 (query + 4, 1);
  ddr_dns_put16 (query + DDR_DNS_HEADER_LEN + name_len, DDR_DNS_TYPE_A);
  ddr_dns_put16 (query + DDR_DNS_HEADER_LEN + name_len + 2, DDR_DNS_CLASS_IN);
  len = DDR_DNS_HEADER_LEN + name_len + 4;
  if (ddr_dns_parse_query (query, len, &qinfo) != DDR_DNS_OK)
    return FALSE;
  pool = ddr_upstream_pool_new (&uc, error);
  if (!pool)
    return FALSE;
  ddr_upstream_pool_send (pool, query, len, &qinfo, on_done, &p);
  /* The pool answers within its timeout, always (ddr-upstream-pool.h). */
  while (!p.done)
    g_main_context_iteration (NULL, TRUE);
  if (p.status != DDR_DOH_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("no DoH answer from %s (%s)"),
                   c->url, ddr_doh_status_to_string (p.status));
      return FALSE;
    }
  if (p.rcode != DDR_DNS_RCODE_NOERROR || !p.address)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   p.rcode != DDR_DNS_RCODE_NOERROR
                   ? _("%s answered, but %s does not resolve (DNS rcode %d)")
                   : _("%s answered, but without an address for %s"),
                   c->url, name, p.rcode);
      g_free (p.address);
      return FALSE;
    }
  *address = p.address;
  return TRUE;
}
