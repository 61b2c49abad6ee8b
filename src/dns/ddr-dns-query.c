/* Simple queries of our own: building one, adding a synthesised answer, reading addresses. */
#define G_LOG_DOMAIN "ddr-dns"

#include "ddr-dns-query.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

gsize
ddr_dns_build_query (const char *name, guint16 qtype, guint16 id, guint8 *out, gsize out_cap)
{
  guint8 wire[DDR_DNS_MAX_NAME];
  gsize wire_len = 0;
  gsize len;

  if (!ddr_dns_name_from_string (name, wire, &wire_len))
    return 0;
  len = DDR_DNS_HEADER_LEN + wire_len + 4;
  if (len > out_cap)
    return 0;
  memset (out, 0, DDR_DNS_HEADER_LEN);
  ddr_dns_put16 (out, id);
  ddr_dns_put16 (out + 2, DDR_DNS_FLAG_RD);
  ddr_dns_put16 (out + 4, 1);
  memcpy (out + DDR_DNS_HEADER_LEN, wire, wire_len);
  ddr_dns_put16 (out + DDR_DNS_HEADER_LEN + wire_len, qtype);
  ddr_dns_put16 (out + DDR_DNS_HEADER_LEN + wire_len + 2, DDR_DNS_CLASS_IN);
  return len;
}

gsize
ddr_dns_add_answer (guint8 *msg, gsize len, gsize cap, guint16 type, guint32 ttl,
                    const guint8 *rdata, guint16 rdlength)
{
  DdrDnsInfo info;
  gsize rr_len = 2 + 10 + (gsize) rdlength;
  gsize at;

  if (ddr_dns_parse_response (msg, len, &info) != DDR_DNS_OK || info.qdcount != 1 ||
      info.ancount != 0 || len + rr_len > cap || len + rr_len > DDR_DNS_MAX_MSG)
    return 0;
  /* Answers go right after the question; authority and additional (the OPT)
   * move back. Nothing after the question can point into the new record. */
  at = info.question_end;
  memmove (msg + at + rr_len, msg + at, len - at);
  ddr_dns_put16 (msg + at, 0xc000 | DDR_DNS_HEADER_LEN);
  ddr_dns_put16 (msg + at + 2, type);
  ddr_dns_put16 (msg + at + 4, DDR_DNS_CLASS_IN);
  ddr_dns_put32 (msg + at + 6, ttl);
  ddr_dns_put16 (msg + at + 10, rdlength);
  memcpy (msg + at + 12, rdata, rdlength);
  ddr_dns_put16 (msg + 6, 1);
  return len + rr_len;
}

char **
ddr_dns_answer_addresses (const guint8 *msg, gsize len, guint16 qtype)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;
  int family = qtype == DDR_DNS_TYPE_AAAA ? AF_INET6 : AF_INET;
  guint16 want_len = qtype == DDR_DNS_TYPE_AAAA ? 16 : 4;

  if (ddr_dns_record_iter_init (&iter, msg, len) == DDR_DNS_OK)
    while (ddr_dns_record_iter_next (&iter, &rec) && rec.section == DDR_DNS_SECTION_ANSWER)
      {
        char text[INET6_ADDRSTRLEN];

        /* CNAMEs come first in a chain; only the address records count. */
        if (rec.type != qtype || rec.rclass != DDR_DNS_CLASS_IN || rec.rdlength != want_len)
          continue;
        if (inet_ntop (family, msg + rec.rdata, text, sizeof text))
          g_ptr_array_add (out, g_strdup (text));
      }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}
