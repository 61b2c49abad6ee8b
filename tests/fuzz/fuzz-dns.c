/* libFuzzer target: parse any bytes as query and response, then run every editor and re-parse. */

#include "ddr-dns-edit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CHECK(cond)                                                   \
  G_STMT_START {                                                      \
    if (!(cond))                                                      \
      {                                                               \
        g_printerr ("%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        abort ();                                                     \
      }                                                               \
  } G_STMT_END

/* Room for pad_query to grow a message. */
#define SLACK 1024

static guint8 *
copy_of (const uint8_t *data, size_t size, size_t cap)
{
  guint8 *copy = g_malloc (cap);

  memcpy (copy, data, size);
  return copy;
}

static void
check_name_round_trip (const DdrDnsInfo *info)
{
  g_autofree char *text = ddr_dns_name_to_string (info->qname, info->qname_len);
  guint8 wire[DDR_DNS_MAX_NAME];
  gsize wire_len = 0;

  CHECK (ddr_dns_name_from_string (text, wire, &wire_len));
  CHECK (ddr_dns_name_equal (wire, wire_len, info->qname, info->qname_len));
  CHECK (ddr_dns_name_is_subdomain (info->qname, info->qname_len, (const guint8 *) "", 1));
}

static void
fuzz_query (const uint8_t *data, size_t size, const DdrDnsInfo *qinfo)
{
  DdrDnsInfo info;
  guint8 out[512];
  gsize n;

  check_name_round_trip (qinfo);

  n = ddr_dns_synthesize (data, size, qinfo, DDR_DNS_RCODE_SERVFAIL,
                          DDR_DNS_EDE_NETWORK_ERROR, "upstream unreachable", out, sizeof out);
  CHECK (n > 0);
  CHECK (ddr_dns_parse_response (out, n, &info) == DDR_DNS_OK);
  CHECK (ddr_dns_same_question (&info, qinfo));
  CHECK (info.has_opt == qinfo->has_opt);

  CHECK (ddr_dns_formerr_header (data, size, out) == DDR_DNS_HEADER_LEN);
  CHECK (ddr_dns_parse_response (out, DDR_DNS_HEADER_LEN, &info) == DDR_DNS_ERR_QDCOUNT);

  {
    g_autofree guint8 *copy = copy_of (data, size, size + SLACK);

    n = ddr_dns_pad_query (copy, size, size + SLACK, DDR_DNS_PADDING_BLOCK);
    if (n > 0)
      {
        CHECK (n % DDR_DNS_PADDING_BLOCK == 0);
        CHECK (ddr_dns_parse_query (copy, n, &info) == DDR_DNS_OK);
        CHECK (info.has_opt && info.has_padding);
        CHECK (ddr_dns_same_question (&info, qinfo));
      }
    else
      {
        /* The relay sends the query unpadded then, so it must be intact. */
        CHECK (memcmp (copy, data, size) == 0);
      }
  }
  {
    g_autofree guint8 *copy = copy_of (data, size, size);

    n = ddr_dns_strip_option (copy, size, size > 13 ? data[size - 1] % 16 : DDR_DNS_OPT_PADDING);
    CHECK (n <= size);
    CHECK (ddr_dns_parse_query (copy, n, &info) == DDR_DNS_OK);
    n = ddr_dns_strip_opt (copy, n);
    CHECK (ddr_dns_parse_query (copy, n, &info) == DDR_DNS_OK);
  }
}

static void
check_truncated (const uint8_t *data, size_t size, const DdrDnsInfo *rinfo, gsize max)
{
  g_autofree guint8 *copy = copy_of (data, size, size);
  DdrDnsInfo info;
  gsize n = ddr_dns_truncate (copy, size, max);

  if (size <= max)
    {
      CHECK (n == size);
      return;
    }
  if (max < (gsize) rinfo->question_end + (rinfo->has_opt ? rinfo->opt_len : 0))
    {
      CHECK (n == 0);
      return;
    }
  CHECK (n > 0 && n <= max);
  CHECK (ddr_dns_parse_response (copy, n, &info) == DDR_DNS_OK);
  CHECK (info.flags & DDR_DNS_FLAG_TC);
  CHECK (info.has_opt == rinfo->has_opt);
  CHECK (ddr_dns_same_question (&info, rinfo));
}

/* The TTL editors may touch the TTL field of non-OPT records and nothing else. */
static void
check_only_ttls_changed (const uint8_t *orig, const guint8 *edited, size_t size)
{
  g_autofree guint8 *allowed = g_malloc0 (size);
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;

  ddr_dns_record_iter_init (&iter, orig, size);
  while (ddr_dns_record_iter_next (&iter, &rec))
    if (rec.type != DDR_DNS_TYPE_OPT)
      memset (allowed + rec.rdata - 6, 1, 4);
  for (size_t i = 0; i < size; i++)
    CHECK (orig[i] == edited[i] || allowed[i]);
}

static void
fuzz_response (const uint8_t *data, size_t size, const DdrDnsInfo *rinfo)
{
  DdrDnsInfo info;
  gsize n;

  check_name_round_trip (rinfo);

  check_truncated (data, size, rinfo, 512);
  if (size >= 2)
    check_truncated (data, size, rinfo, ddr_dns_get16 (data + size - 2) % (size + 1));

  {
    g_autofree guint8 *copy = copy_of (data, size, size);

    ddr_dns_age_ttls (copy, size, size > 13 ? data[size - 1] : 1);
    check_only_ttls_changed (data, copy, size);
    /* A hostile message can alias a name onto TTL bytes; then the rewrite
     * legitimately changes the name, so only a clean parse is checked. */
    if (ddr_dns_parse_response (copy, size, &info) == DDR_DNS_OK)
      {
        CHECK (info.min_ttl <= rinfo->min_ttl);
        CHECK (info.edns_flags == rinfo->edns_flags);
      }
    ddr_dns_set_ttls (copy, size, 30);
    check_only_ttls_changed (data, copy, size);
    if (ddr_dns_parse_response (copy, size, &info) == DDR_DNS_OK)
      CHECK (info.min_ttl == (info.ancount + info.nscount > 0 ? 30 : G_MAXUINT32));
  }
  {
    g_autofree guint8 *copy = copy_of (data, size, size);

    n = ddr_dns_strip_option (copy, size, DDR_DNS_OPT_EDE);
    CHECK (ddr_dns_parse_response (copy, n, &info) == DDR_DNS_OK);
    n = ddr_dns_strip_option (copy, n, DDR_DNS_OPT_PADDING);
    CHECK (ddr_dns_parse_response (copy, n, &info) == DDR_DNS_OK);
    n = ddr_dns_strip_opt (copy, n);
    CHECK (ddr_dns_parse_response (copy, n, &info) == DDR_DNS_OK);
    CHECK (ddr_dns_same_question (&info, rinfo));
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  DdrDnsInfo info;
  gsize off = DDR_DNS_HEADER_LEN;
  guint8 name[DDR_DNS_MAX_NAME];
  gsize name_len;

  /* Also walk a name from wherever the input points, ignoring the header. */
  if (size > 2)
    {
      off = data[0] % size;
      (void) ddr_dns_read_name (data, size, &off, name, &name_len);
    }

  if (ddr_dns_parse_query (data, size, &info) == DDR_DNS_OK)
    fuzz_query (data, size, &info);
  if (ddr_dns_parse_response (data, size, &info) == DDR_DNS_OK)
    fuzz_response (data, size, &info);
  return 0;
}
