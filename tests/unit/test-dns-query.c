/* Our own simple queries: building one, adding the canary answer, reading addresses back. */
#include <glib.h>
#include <string.h>

#include "ddr-dns-query.h"
#include "ddr-dns-edit.h"

static void
test_build (void)
{
  guint8 buf[512];
  DdrDnsInfo info;
  gsize len = ddr_dns_build_query ("Check.Test.", DDR_DNS_TYPE_AAAA, 0xbeef, buf, sizeof buf);
  g_autofree char *name = NULL;

  g_assert_cmpuint (len, ==, 12 + 12 + 4);
  g_assert_cmpint (ddr_dns_parse_query (buf, len, &info), ==, DDR_DNS_OK);
  g_assert_cmpuint (info.id, ==, 0xbeef);
  g_assert_true (info.flags & DDR_DNS_FLAG_RD);
  g_assert_cmpuint (info.qtype, ==, DDR_DNS_TYPE_AAAA);
  g_assert_cmpuint (info.qclass, ==, DDR_DNS_CLASS_IN);
  g_assert_false (info.has_opt);
  name = ddr_dns_name_to_string (info.qname, info.qname_len);
  g_assert_cmpstr (name, ==, "check.test.");

  g_assert_cmpuint (ddr_dns_build_query ("bad..name", 1, 0, buf, sizeof buf), ==, 0);
  g_assert_cmpuint (ddr_dns_build_query ("check.test", 1, 0, buf, 20), ==, 0);
}

/* A synthesised NOERROR (with the client's OPT) plus an A record: what the canary sends. */
static void
test_add_answer (void)
{
  guint8 q[512], r[512];
  gsize qlen = ddr_dns_build_query ("canary.test", DDR_DNS_TYPE_A, 7, q, sizeof q);
  DdrDnsInfo qinfo, rinfo;
  static const guint8 addr[4] = { 192, 0, 0, 8 };
  g_auto(GStrv) addrs = NULL;
  gsize len;

  qlen = ddr_dns_pad_query (q, qlen, sizeof q, DDR_DNS_PADDING_BLOCK);   /* gives it an OPT */
  g_assert_cmpuint (qlen, >, 0);
  g_assert_cmpint (ddr_dns_parse_query (q, qlen, &qinfo), ==, DDR_DNS_OK);
  g_assert_true (qinfo.has_opt);
  len = ddr_dns_synthesize (q, qlen, &qinfo, DDR_DNS_RCODE_NOERROR, -1, NULL, r, sizeof r);
  g_assert_cmpuint (len, >, 0);
  len = ddr_dns_add_answer (r, len, sizeof r, DDR_DNS_TYPE_A, 0, addr, 4);
  g_assert_cmpuint (len, >, 0);
  g_assert_cmpint (ddr_dns_parse_response (r, len, &rinfo), ==, DDR_DNS_OK);
  g_assert_cmpuint (rinfo.ancount, ==, 1);
  g_assert_cmpuint (rinfo.arcount, ==, 1);
  g_assert_true (rinfo.has_opt);
  g_assert_cmpuint (rinfo.min_ttl, ==, 0);
  g_assert_true (ddr_dns_same_question (&qinfo, &rinfo));
  addrs = ddr_dns_answer_addresses (r, len, DDR_DNS_TYPE_A);
  g_assert_cmpuint (g_strv_length (addrs), ==, 1);
  g_assert_cmpstr (addrs[0], ==, "192.0.0.8");

  /* only once: a second answer is refused, and a tiny buffer too */
  g_assert_cmpuint (ddr_dns_add_answer (r, len, sizeof r, DDR_DNS_TYPE_A, 0, addr, 4), ==, 0);
  g_assert_cmpuint (ddr_dns_add_answer (r, len - 16, len, DDR_DNS_TYPE_A, 0, addr, 4), ==, 0);
}

static void
test_addresses (void)
{
  guint8 r[512];
  gsize len = ddr_dns_build_query ("v6.test", DDR_DNS_TYPE_AAAA, 1, r, sizeof r);
  static const guint8 a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };
  g_auto(GStrv) none = NULL;
  g_auto(GStrv) six = NULL;
  g_auto(GStrv) four = NULL;

  ddr_dns_put16 (r + 2, DDR_DNS_FLAG_QR | DDR_DNS_FLAG_RD);
  none = ddr_dns_answer_addresses (r, len, DDR_DNS_TYPE_AAAA);
  g_assert_nonnull (none);
  g_assert_cmpuint (g_strv_length (none), ==, 0);
  len = ddr_dns_add_answer (r, len, sizeof r, DDR_DNS_TYPE_AAAA, 60, a6, 16);
  six = ddr_dns_answer_addresses (r, len, DDR_DNS_TYPE_AAAA);
  g_assert_cmpuint (g_strv_length (six), ==, 1);
  g_assert_cmpstr (six[0], ==, "2001:db8::10");
  four = ddr_dns_answer_addresses (r, len, DDR_DNS_TYPE_A);
  g_assert_cmpuint (g_strv_length (four), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dns-query/build", test_build);
  g_test_add_func ("/dns-query/add-answer", test_add_answer);
  g_test_add_func ("/dns-query/addresses", test_addresses);
  return g_test_run ();
}
