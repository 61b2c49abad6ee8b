/* Unit tests for the DNS wire-format parser: names, pointers, OPT, every truncation. */

#include "ddr-dns-wire.h"

#include <string.h>

#include "dns-builder.h"

/* Overwrite one of the four section counts (0 = QD .. 3 = AR). */
static void
set_count (Msg *m, guint idx, guint16 v)
{
  m->buf[4 + 2 * idx] = (guint8) (v >> 8);
  m->buf[5 + 2 * idx] = (guint8) v;
}

/* A realistic response: CNAME chain with compression, NS, glue, OPT with EDE
 * and padding, SOA in authority. */
static void
build_response (Msg *m)
{
  gsize q, cname_target;

  put_header (m, DDR_DNS_FLAG_QR | DDR_DNS_FLAG_RD | DDR_DNS_FLAG_RA, 1, 3, 2, 3);
  q = put_question (m, "www.Example.com", DDR_DNS_TYPE_A);

  /* www.example.com CNAME cdn.example.com */
  put_name_ptr (m, "", q);
  put_rr (m, DDR_DNS_TYPE_CNAME, 300, 6);
  cname_target = put_name_ptr (m, "cdn", q + 4);
  /* cdn.example.com A x2 */
  for (guint i = 0; i < 2; i++)
    {
      put_a (m, cname_target, 60 + i, 0xc0000201 + i);
    }

  /* example.com NS ns1.example.com */
  put_name_ptr (m, "", q + 4);
  put_rr (m, DDR_DNS_TYPE_NS, 86400, 6);
  put_name_ptr (m, "ns1", q + 4);
  /* example.com SOA ns1 hostmaster serial refresh retry expire minimum */
  put_name_ptr (m, "", q + 4);
  put_rr (m, DDR_DNS_TYPE_SOA, 3600, 2 + 13 + 20);
  put_name_ptr (m, "", cname_target);  /* mname: cdn.example.com */
  put_name_ptr (m, "hostmaster.", q + 4); /* 1 + 10 + 2 = 13 */
  put32 (m, 2024010101);
  put32 (m, 7200);
  put32 (m, 3600);
  put32 (m, 1209600);
  put32 (m, 120);

  /* ns1 A, OPT (EDE + padding), ns1 AAAA */
  put_name_ptr (m, "ns1", q + 4);
  put_rr (m, DDR_DNS_TYPE_A, 86400, 4);
  put32 (m, 0xc0000235);
  put_opt (m, 1232, DDR_DNS_EDNS_DO, 6 + 4 + 4);
  put16 (m, DDR_DNS_OPT_EDE);
  put16 (m, 2);
  put16 (m, DDR_DNS_EDE_STALE_ANSWER);
  put16 (m, DDR_DNS_OPT_PADDING);
  put16 (m, 4);
  put32 (m, 0);
  put_name_ptr (m, "ns1", q + 4);
  put_rr (m, DDR_DNS_TYPE_AAAA, 86400, 16);
  for (guint i = 0; i < 16; i++)
    put8 (m, (guint8) i);
}

static void
test_query_basic (void)
{
  Msg m;
  DdrDnsInfo info;
  guint8 expect[DDR_DNS_MAX_NAME];
  gsize expect_len;

  put_header (&m, DDR_DNS_FLAG_RD, 1, 0, 0, 1);
  put_question (&m, "WWW.Example.COM", DDR_DNS_TYPE_AAAA);
  put_opt (&m, 4096, 0x01028000, 0);

  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_OK);
  g_assert_cmpuint (info.id, ==, 0x1234);
  g_assert_cmpuint (info.qtype, ==, DDR_DNS_TYPE_AAAA);
  g_assert_cmpuint (info.qclass, ==, DDR_DNS_CLASS_IN);
  g_assert_cmpuint (info.question_end, ==, 12 + 17 + 4);
  g_assert_true (ddr_dns_name_from_string ("www.example.com", expect, &expect_len));
  g_assert_cmpmem (info.qname, info.qname_len, expect, expect_len);
  g_assert_true (info.has_opt);
  g_assert_cmpuint (info.opt_offset, ==, 33);
  g_assert_cmpuint (info.opt_len, ==, 11);
  g_assert_cmpuint (info.udp_size, ==, 4096);
  g_assert_cmpuint (info.ext_rcode, ==, 1);
  g_assert_cmpuint (info.edns_version, ==, 2);
  g_assert_cmpuint (info.edns_flags, ==, DDR_DNS_EDNS_DO);
  g_assert_false (info.has_padding);

  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_ERR_NOT_RESPONSE);
  m.buf[2] |= 0x80;
  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_ERR_NOT_QUERY);
}

static void
test_query_counts (void)
{
  Msg m;
  DdrDnsInfo info;

  put_header (&m, 0, 0, 0, 0, 0);
  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_ERR_QDCOUNT);
  g_assert_cmpint (ddr_dns_parse_query (m.buf, 11, &info), ==, DDR_DNS_ERR_SHORT);

  put_header (&m, 0, 2, 0, 0, 0);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  put_name (&m, "b");
  put32 (&m, 0x00010001);
  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_ERR_QDCOUNT);

  /* Counts promising a record that is not there. */
  put_header (&m, 0, 1, 1, 0, 0);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), !=, DDR_DNS_OK);

  /* Trailing garbage. */
  put_header (&m, 0, 1, 0, 0, 0);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  put8 (&m, 0);
  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_ERR_TRAILING);
}

static void
test_response_basic (void)
{
  Msg m;
  DdrDnsInfo info;

  build_response (&m);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_OK);
  g_assert_cmpuint (info.ancount, ==, 3);
  g_assert_cmpuint (info.nscount, ==, 2);
  g_assert_cmpuint (info.arcount, ==, 3);
  g_assert_cmpuint (info.min_ttl, ==, 60);
  g_assert_true (info.has_soa);
  g_assert_cmpuint (info.soa_negative_ttl, ==, 120);
  g_assert_true (info.has_opt);
  g_assert_true (info.has_padding);
  g_assert_cmpuint (info.udp_size, ==, 1232);
  g_assert_cmpuint (info.edns_flags, ==, DDR_DNS_EDNS_DO);
}

static void
test_response_ttls (void)
{
  Msg m;
  DdrDnsInfo info;

  /* No records: nothing bounds the TTL. */
  put_header (&m, DDR_DNS_FLAG_QR, 1, 0, 0, 0);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_OK);
  g_assert_cmpuint (info.min_ttl, ==, G_MAXUINT32);
  g_assert_false (info.has_soa);

  /* A TTL with the top bit set counts as 0 (RFC 2181 §8); additional does not count. */
  put_header (&m, DDR_DNS_FLAG_QR, 1, 1, 0, 1);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  put_a (&m, 12, 0x80000005, 1);
  put_a (&m, 12, 1, 1);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_OK);
  g_assert_cmpuint (info.min_ttl, ==, 0);

  /* SOA TTL below MINIMUM wins. */
  put_header (&m, DDR_DNS_FLAG_QR | DDR_DNS_RCODE_NXDOMAIN, 1, 0, 1, 0);
  put_name (&m, "nx.example");
  put32 (&m, 0x00010001);
  put_name_ptr (&m, "", 15);
  put_rr (&m, DDR_DNS_TYPE_SOA, 30, 2 + 2 + 20);
  put_name_ptr (&m, "", 15);
  put_name_ptr (&m, "", 15);
  put32 (&m, 1);
  put32 (&m, 2);
  put32 (&m, 3);
  put32 (&m, 4);
  put32 (&m, 900);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_OK);
  g_assert_true (info.has_soa);
  g_assert_cmpuint (info.soa_negative_ttl, ==, 30);

  /* SOA rdata one byte short of MINIMUM. */
  m.buf[m.len - 20 - 4 - 1] = 2 + 2 + 19;
  m.len--;
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), !=, DDR_DNS_OK);
}

/* Question "a" at 12, then one answer whose owner is `owner` bytes. */
static DdrDnsStatus
parse_with_owner (const guint8 *owner, gsize owner_len)
{
  Msg m;
  DdrDnsInfo info;

  put_header (&m, DDR_DNS_FLAG_QR, 1, 1, 0, 0);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  for (gsize i = 0; i < owner_len; i++)
    put8 (&m, owner[i]);
  put_rr (&m, DDR_DNS_TYPE_A, 1, 4);
  put32 (&m, 1);
  return ddr_dns_parse_response (m.buf, m.len, &info);
}

static void
test_pointers (void)
{
  /* 12: 01 'a' 00, 15: type/class, 19: owner */
  const guint8 valid[] = { 0xc0, 12 };
  const guint8 label_then_ptr[] = { 1, 'b', 0xc0, 12 };
  const guint8 forward[] = { 0xc0, 30 };
  const guint8 self[] = { 0xc0, 19 };
  const guint8 into_header[] = { 0xc0, 4 };
  const guint8 into_own_labels[] = { 1, 'b', 0xc0, 19 };
  const guint8 truncated_ptr[] = { 0xc0 };
  const guint8 type_40[] = { 0x40, 'x', 0 };
  const guint8 type_80[] = { 0x80, 'x', 0 };

  g_assert_cmpint (parse_with_owner (valid, sizeof valid), ==, DDR_DNS_OK);
  g_assert_cmpint (parse_with_owner (label_then_ptr, sizeof label_then_ptr), ==, DDR_DNS_OK);
  g_assert_cmpint (parse_with_owner (forward, sizeof forward), ==, DDR_DNS_ERR_NAME);
  g_assert_cmpint (parse_with_owner (self, sizeof self), ==, DDR_DNS_ERR_NAME);
  g_assert_cmpint (parse_with_owner (into_header, sizeof into_header), ==, DDR_DNS_ERR_NAME);
  g_assert_cmpint (parse_with_owner (into_own_labels, sizeof into_own_labels), ==, DDR_DNS_ERR_NAME);
  g_assert_cmpint (parse_with_owner (truncated_ptr, sizeof truncated_ptr), !=, DDR_DNS_OK);
  g_assert_cmpint (parse_with_owner (type_40, sizeof type_40), ==, DDR_DNS_ERR_NAME);
  g_assert_cmpint (parse_with_owner (type_80, sizeof type_80), ==, DDR_DNS_ERR_NAME);
}

static void
test_pointer_chains (void)
{
  Msg m;
  guint8 name[DDR_DNS_MAX_NAME];
  gsize name_len, off;
  gsize a, b, c;

  /* A chain of backward pointers is fine: c -> b -> a -> "x.y". */
  put_header (&m, 0, 0, 0, 0, 0);
  a = put_name (&m, "x.y");
  b = put_name_ptr (&m, "", a);
  c = put_name_ptr (&m, "z", b);
  off = c;
  g_assert_true (ddr_dns_read_name (m.buf, m.len, &off, name, &name_len));
  g_assert_cmpuint (off, ==, m.len);
  g_assert_cmpmem (name, name_len, "\1z\1x\1y", 7);

  /* A loop through two pointers: the second pointer goes back to a spot at or
   * after the run it ended, so the walk refuses it. */
  put_header (&m, 0, 0, 0, 0, 0);
  a = m.len;                    /* 12: "p" -> 16 (forward) */
  put8 (&m, 1);
  put8 (&m, 'p');
  put16 (&m, 0xc000 | 16);
  put16 (&m, 0xc000 | 12);      /* 16: -> 12 */
  off = 16;
  g_assert_false (ddr_dns_read_name (m.buf, m.len, &off, name, &name_len));
  off = a;
  g_assert_false (ddr_dns_read_name (m.buf, m.len, &off, name, &name_len));

  /* Out of bounds and empty input. */
  off = m.len;
  g_assert_false (ddr_dns_read_name (m.buf, m.len, &off, name, &name_len));
  off = 0;
  g_assert_false (ddr_dns_read_name (m.buf, 0, &off, NULL, NULL));
}

static void
test_pointer_run_past_itself (void)
{
  /* Found by the fuzzer: glue whose owner points at an NS target mangled into
   * "\2ns" + a 49-byte label, whose labels run on into the OPT record. A name
   * reached by a pointer must end before that pointer. */
  const char *b64 = "AAiBgAABAAIAAAAEBz14YW1wbGUDbmV0AAACAAHADAACAAEAAVGAAAYCbnMxwAzADPsBAAEAAVGA"
                    "AAYDbnMywAzAKQABAAEAAVGAAATAAAIBAAApEAAAAIAAABQADAAAAAAAABAAAAAAAAAAAAAAAANu"
                    "czIHZXhhbXBsZQNuZXQAAAEAAQABUYAABMAAAgLAcAAcAAEAAVGAABAAAQIDBAUGBwgJCgsMDQ4P";
  gsize len;
  g_autofree guint8 *msg = g_base64_decode (b64, &len);
  guint8 owner[] = { 0xc0, 14 };  /* the root byte of "a" */
  DdrDnsInfo info;

  g_assert_cmpint (ddr_dns_parse_response (msg, len, &info), ==, DDR_DNS_ERR_NAME);

  /* The same in small: a pointer to the root byte of the question name is fine,
   * a pointer into the answer's own rdata whose label covers the pointer is not. */
  g_assert_cmpint (parse_with_owner (owner, sizeof owner), ==, DDR_DNS_OK);
  {
    Msg m;

    put_header (&m, DDR_DNS_FLAG_QR, 1, 2, 0, 0);
    put_name (&m, "a");
    put32 (&m, 0x00010001);
    put_a (&m, 12, 1, 0x04787978);     /* "\4xyx" + the next byte */
    put_a (&m, m.len - 4, 1, 1);
    g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_ERR_NAME);
  }
}

static void
test_label_lengths (void)
{
  guint8 owner[300];
  gsize n;

  /* One 63-byte label is fine, 64 collides with the 0x40 label type. */
  owner[0] = 63;
  memset (owner + 1, 'a', 63);
  owner[64] = 0;
  g_assert_cmpint (parse_with_owner (owner, 65), ==, DDR_DNS_OK);
  owner[0] = 64;
  memset (owner + 1, 'a', 64);
  owner[65] = 0;
  g_assert_cmpint (parse_with_owner (owner, 66), ==, DDR_DNS_ERR_NAME);

  /* 255 bytes with the root: 3 x (63+1) + (61+1) + 1 */
  n = 0;
  for (guint i = 0; i < 3; i++)
    {
      owner[n++] = 63;
      memset (owner + n, 'b', 63);
      n += 63;
    }
  owner[n++] = 61;
  memset (owner + n, 'c', 61);
  n += 61;
  owner[n++] = 0;
  g_assert_cmpuint (n, ==, 255);
  g_assert_cmpint (parse_with_owner (owner, n), ==, DDR_DNS_OK);

  /* 256: the last label one byte longer */
  n -= 63;
  owner[n++] = 62;
  memset (owner + n, 'c', 62);
  n += 62;
  owner[n++] = 0;
  g_assert_cmpuint (n, ==, 256);
  g_assert_cmpint (parse_with_owner (owner, n), ==, DDR_DNS_ERR_NAME);
}

static void
test_long_name_through_pointer (void)
{
  Msg m;
  DdrDnsInfo info;
  gsize q;

  /* The question is 253 bytes; an owner prefixing 2 more bytes makes 255 (ok),
   * 3 more makes 256 (too long) even though each piece is short in place. */
  put_header (&m, DDR_DNS_FLAG_QR, 1, 1, 0, 0);
  q = m.len;
  for (guint i = 0; i < 3; i++)
    {
      put8 (&m, 63);
      for (guint j = 0; j < 63; j++)
        put8 (&m, 'd');
    }
  put8 (&m, 59);
  for (guint j = 0; j < 59; j++)
    put8 (&m, 'e');
  put8 (&m, 0);
  g_assert_cmpuint (m.len - q, ==, 253);
  put32 (&m, 0x00010001);
  put_name_ptr (&m, "f", q);
  put_rr (&m, DDR_DNS_TYPE_A, 1, 4);
  put32 (&m, 1);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_OK);

  put_header (&m, DDR_DNS_FLAG_QR, 1, 1, 0, 0);
  m.len = q + 253 + 4;
  put_name_ptr (&m, "gg", q);
  put_rr (&m, DDR_DNS_TYPE_A, 1, 4);
  put32 (&m, 1);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_ERR_NAME);
}

static void
test_every_prefix (void)
{
  Msg m;
  DdrDnsInfo info;

  build_response (&m);
  for (gsize l = 0; l < m.len; l++)
    {
      /* A fresh heap copy of exactly l bytes so ASan sees any overread. */
      g_autofree guint8 *copy = g_memdup2 (m.buf, l ? l : 1);

      g_assert_cmpint (ddr_dns_parse_response (copy, l, &info), !=, DDR_DNS_OK);
    }
}

static void
test_every_byte_value (void)
{
  Msg m;
  DdrDnsInfo info;

  /* Not a correctness check: any single corrupted byte must not crash. */
  build_response (&m);
  for (gsize i = 0; i < m.len; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (m.buf, m.len);

      for (guint v = 0; v < 256; v++)
        {
          copy[i] = (guint8) v;
          (void) ddr_dns_parse_response (copy, m.len, &info);
          (void) ddr_dns_parse_query (copy, m.len, &info);
        }
    }
}

static void
test_opt_rules (void)
{
  Msg m;
  DdrDnsInfo info;

  /* OPT in the answer section. */
  put_header (&m, DDR_DNS_FLAG_QR, 1, 1, 0, 0);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  put_opt (&m, 1232, 0, 0);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_ERR_OPT);
  /* ... and in authority */
  set_count (&m, 1, 0);
  set_count (&m, 2, 1);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_ERR_OPT);
  /* ... additional is right */
  set_count (&m, 2, 0);
  set_count (&m, 3, 1);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_OK);

  /* Two OPTs. */
  put_opt (&m, 1232, 0, 0);
  set_count (&m, 3, 2);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_ERR_OPT);

  /* Owner not root, and root only through a pointer. */
  put_header (&m, 0, 1, 0, 0, 1);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  put_name (&m, "a");
  put16 (&m, DDR_DNS_TYPE_OPT);
  put16 (&m, 1232);
  put32 (&m, 0);
  put16 (&m, 0);
  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_ERR_OPT);

  put_header (&m, 0, 1, 0, 0, 1);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  put16 (&m, 0xc000 | 14);      /* the root byte of "a" */
  put16 (&m, DDR_DNS_TYPE_OPT);
  put16 (&m, 1232);
  put32 (&m, 0);
  put16 (&m, 0);
  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_ERR_OPT);

  /* Option running past RDLENGTH; a partial option header. */
  put_header (&m, 0, 1, 0, 0, 1);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  put_opt (&m, 1232, 0, 6);
  put16 (&m, DDR_DNS_OPT_PADDING);
  put16 (&m, 3);
  put16 (&m, 0);
  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_ERR_OPT);
  m.buf[m.len - 3] = 2;
  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_OK);
  g_assert_true (info.has_padding);

  put_header (&m, 0, 1, 0, 0, 1);
  put_name (&m, "a");
  put32 (&m, 0x00010001);
  put_opt (&m, 1232, 0, 3);
  put16 (&m, DDR_DNS_OPT_PADDING);
  put8 (&m, 0);
  g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_ERR_OPT);
}

static void
test_name_strings (void)
{
  guint8 wire[DDR_DNS_MAX_NAME];
  gsize len;
  g_autofree char *s1 = NULL;
  g_autofree char *s2 = NULL;
  g_autofree char *s3 = NULL;
  g_autofree char *long_label = g_strnfill (63, 'x');
  g_autofree char *too_long_label = g_strnfill (64, 'x');
  g_autofree char *name_253 = NULL;
  g_autofree char *name_254 = NULL;
  const guint8 odd[] = { 4, 'a', '.', ' ', '\\', 2, 0xff, 'b', 0 };

  g_assert_true (ddr_dns_name_from_string ("www.example.com", wire, &len));
  g_assert_cmpmem (wire, len, "\3www\7example\3com", 17);
  g_assert_true (ddr_dns_name_from_string ("www.example.com.", wire, &len));
  g_assert_cmpuint (len, ==, 17);
  g_assert_true (ddr_dns_name_from_string (".", wire, &len));
  g_assert_cmpuint (len, ==, 1);
  g_assert_true (ddr_dns_name_from_string ("", wire, &len));
  g_assert_cmpuint (len, ==, 1);

  g_assert_false (ddr_dns_name_from_string ("a..b", wire, &len));
  g_assert_false (ddr_dns_name_from_string (".a", wire, &len));
  g_assert_false (ddr_dns_name_from_string ("a\\", wire, &len));
  g_assert_false (ddr_dns_name_from_string ("a\\256", wire, &len));
  g_assert_false (ddr_dns_name_from_string (NULL, wire, &len));
  g_assert_true (ddr_dns_name_from_string (long_label, wire, &len));
  g_assert_false (ddr_dns_name_from_string (too_long_label, wire, &len));

  /* 253 presentation characters is the longest: 255 in wire form. */
  name_253 = g_strdup_printf ("%s.%s.%s.%s", long_label, long_label, long_label,
                              too_long_label + 3);
  g_assert_cmpuint (strlen (name_253), ==, 253);
  g_assert_true (ddr_dns_name_from_string (name_253, wire, &len));
  g_assert_cmpuint (len, ==, 255);
  name_254 = g_strconcat (name_253, "y", NULL);
  g_assert_false (ddr_dns_name_from_string (name_254, wire, &len));

  s1 = ddr_dns_name_to_string (odd, sizeof odd);
  g_assert_cmpstr (s1, ==, "a\\.\\032\\\\.\\255b.");
  g_assert_true (ddr_dns_name_from_string (s1, wire, &len));
  g_assert_cmpmem (wire, len, odd, sizeof odd);

  s2 = ddr_dns_name_to_string ((const guint8 *) "", 1);
  g_assert_cmpstr (s2, ==, ".");
  s3 = ddr_dns_name_to_string ((const guint8 *) "\5ab", 3);
  g_assert_cmpstr (s3, ==, "<invalid>");
}

static void
test_name_compare (void)
{
  guint8 a[DDR_DNS_MAX_NAME], b[DDR_DNS_MAX_NAME], z[DDR_DNS_MAX_NAME];
  gsize al, bl, zl;
  DdrDnsInfo i1 = { 0, }, i2 = { 0, };

  g_assert_true (ddr_dns_name_from_string ("www.example.com", a, &al));
  g_assert_true (ddr_dns_name_from_string ("WWW.EXAMPLE.com", b, &bl));
  g_assert_true (ddr_dns_name_equal (a, al, b, bl));

  g_assert_true (ddr_dns_name_from_string ("example.com", z, &zl));
  g_assert_true (ddr_dns_name_is_subdomain (a, al, z, zl));
  g_assert_true (ddr_dns_name_is_subdomain (z, zl, z, zl));
  g_assert_false (ddr_dns_name_is_subdomain (z, zl, a, al));
  g_assert_true (ddr_dns_name_from_string ("badexample.com", b, &bl));
  g_assert_false (ddr_dns_name_is_subdomain (b, bl, z, zl));
  g_assert_true (ddr_dns_name_from_string (".", z, &zl));
  g_assert_true (ddr_dns_name_is_subdomain (a, al, z, zl));

  memcpy (i1.qname, a, al);
  i1.qname_len = (guint16) al;
  i1.qtype = DDR_DNS_TYPE_A;
  i1.qclass = DDR_DNS_CLASS_IN;
  i2 = i1;
  g_assert_true (ddr_dns_same_question (&i1, &i2));
  i2.qtype = DDR_DNS_TYPE_AAAA;
  g_assert_false (ddr_dns_same_question (&i1, &i2));
}

static void
test_status_strings (void)
{
  for (int s = DDR_DNS_OK; s <= DDR_DNS_ERR_TOO_LONG; s++)
    g_assert_nonnull (ddr_dns_status_to_string ((DdrDnsStatus) s));
  g_assert_cmpstr (ddr_dns_status_to_string (DDR_DNS_OK), ==, "ok");
}

static void
test_too_long (void)
{
  g_autofree guint8 *big = g_malloc0 (DDR_DNS_MAX_MSG + 1);
  DdrDnsInfo info;

  g_assert_cmpint (ddr_dns_parse_query (big, DDR_DNS_MAX_MSG + 1, &info), ==, DDR_DNS_ERR_TOO_LONG);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/dns-wire/query/basic", test_query_basic);
  g_test_add_func ("/dns-wire/query/counts", test_query_counts);
  g_test_add_func ("/dns-wire/response/basic", test_response_basic);
  g_test_add_func ("/dns-wire/response/ttls", test_response_ttls);
  g_test_add_func ("/dns-wire/name/pointers", test_pointers);
  g_test_add_func ("/dns-wire/name/pointer-chains", test_pointer_chains);
  g_test_add_func ("/dns-wire/name/pointer-run-past-itself", test_pointer_run_past_itself);
  g_test_add_func ("/dns-wire/name/label-lengths", test_label_lengths);
  g_test_add_func ("/dns-wire/name/long-through-pointer", test_long_name_through_pointer);
  g_test_add_func ("/dns-wire/robust/every-prefix", test_every_prefix);
  g_test_add_func ("/dns-wire/robust/every-byte-value", test_every_byte_value);
  g_test_add_func ("/dns-wire/robust/too-long", test_too_long);
  g_test_add_func ("/dns-wire/opt/rules", test_opt_rules);
  g_test_add_func ("/dns-wire/name/strings", test_name_strings);
  g_test_add_func ("/dns-wire/name/compare", test_name_compare);
  g_test_add_func ("/dns-wire/status-strings", test_status_strings);

  return g_test_run ();
}
