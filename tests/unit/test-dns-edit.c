/* Unit tests for in-place DNS editing: truncation, synthesis, TTLs, padding, OPT removal. */

#include "ddr-dns-edit.h"

#include <string.h>

/* the ID the expected bytes below carry */
#define DNS_BUILDER_ID 0xbeef
#include "dns-builder.h"

typedef enum { OPT_NONE, OPT_MIDDLE, OPT_END } OptPlace;

/* A response big enough to truncate: CNAME, 8 A, 3 NS, glue, AAAA pair, and
 * glue after the OPT that compresses against other glue after the OPT. */
static void
build_big_response (Msg *m, OptPlace opt)
{
  gsize q, cdn, ns[3], ns3_owner;

  put_header (m, DDR_DNS_FLAG_QR | DDR_DNS_FLAG_RD | DDR_DNS_FLAG_RA, 1, 9, 3,
              opt == OPT_NONE ? 5 : 6);
  q = put_question (m, "www.example.org", DDR_DNS_TYPE_A);

  put_name_ptr (m, "", q);
  put_rr (m, DDR_DNS_TYPE_CNAME, 3600, 6);
  cdn = put_name_ptr (m, "cdn", q + 4);
  for (guint i = 0; i < 8; i++)
    {
      put_a (m, cdn, 300, 0xcb007100 + i);
    }

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *label = g_strdup_printf ("ns%u", i + 1);

      put_name_ptr (m, "", q + 4);
      put_rr (m, DDR_DNS_TYPE_NS, 86400, 6);
      ns[i] = put_name_ptr (m, label, q + 4);
    }

  put_a (m, ns[0], 86400, 0xc6336401);
  put_a (m, ns[1], 86400, 0xc6336402);
  if (opt == OPT_MIDDLE)
    {
      put_opt (m, 1232, DDR_DNS_EDNS_DO, 6);
      put16 (m, DDR_DNS_OPT_EDE);
      put16 (m, 2);
      put16 (m, DDR_DNS_EDE_STALE_ANSWER);
    }
  /* Literal name after the OPT, then a record pointing at it. */
  ns3_owner = put_name (m, "ns3.example.org");
  put_rr (m, DDR_DNS_TYPE_A, 86400, 4);
  put32 (m, 0xc6336403);
  put_name_ptr (m, "", ns3_owner);
  put_rr (m, DDR_DNS_TYPE_AAAA, 86400, 16);
  for (guint i = 0; i < 16; i++)
    put8 (m, (guint8) (0x20 + i));
  put_name_ptr (m, "", ns3_owner);
  put_rr (m, DDR_DNS_TYPE_AAAA, 86400, 16);
  for (guint i = 0; i < 16; i++)
    put8 (m, (guint8) (0x40 + i));
  if (opt == OPT_END)
    {
      put_opt (m, 4096, DDR_DNS_EDNS_DO, 0);
    }
}

typedef struct {
  DdrDnsSection section;
  guint16 type;
  guint   count;
  guint8  owner[DDR_DNS_MAX_NAME];
  gsize   owner_len;
} SetSummary;

/* The RR-sets of a message, in order, OPT left out. */
static guint
collect_sets (const guint8 *msg, gsize len, SetSummary *sets, guint max)
{
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;
  guint n = 0;

  g_assert_cmpint (ddr_dns_record_iter_init (&iter, msg, len), ==, DDR_DNS_OK);
  while (ddr_dns_record_iter_next (&iter, &rec))
    {
      guint8 owner[DDR_DNS_MAX_NAME];
      gsize owner_len, pos = rec.start;

      if (rec.type == DDR_DNS_TYPE_OPT)
        continue;
      g_assert_true (ddr_dns_read_name (msg, len, &pos, owner, &owner_len));
      if (n > 0 && sets[n - 1].section == rec.section && sets[n - 1].type == rec.type &&
          ddr_dns_name_equal (owner, owner_len, sets[n - 1].owner, sets[n - 1].owner_len))
        {
          sets[n - 1].count++;
          continue;
        }
      g_assert_cmpuint (n, <, max);
      sets[n].section = rec.section;
      sets[n].type = rec.type;
      sets[n].count = 1;
      memcpy (sets[n].owner, owner, owner_len);
      sets[n].owner_len = owner_len;
      n++;
    }
  g_assert_cmpint (iter.status, ==, DDR_DNS_OK);
  return n;
}

static void
test_truncate_round_trip (void)
{
  for (OptPlace place = OPT_NONE; place <= OPT_END; place++)
    {
      Msg orig;
      DdrDnsInfo oinfo;
      SetSummary osets[32];
      guint on;

      build_big_response (&orig, place);
      g_assert_cmpint (ddr_dns_parse_response (orig.buf, orig.len, &oinfo), ==, DDR_DNS_OK);
      on = collect_sets (orig.buf, orig.len, osets, G_N_ELEMENTS (osets));
      g_assert_cmpuint (on, ==, 7);

      for (gsize max = 0; max <= orig.len + 4; max++)
        {
          g_autofree guint8 *copy = g_memdup2 (orig.buf, orig.len);
          DdrDnsInfo info;
          SetSummary sets[32];
          gsize n = ddr_dns_truncate (copy, orig.len, max);
          guint tn;

          if (max >= orig.len)
            {
              g_assert_cmpuint (n, ==, orig.len);
              g_assert_cmpmem (copy, n, orig.buf, orig.len);
              continue;
            }
          if (max < (gsize) oinfo.question_end + oinfo.opt_len)
            {
              g_assert_cmpuint (n, ==, 0);
              continue;
            }

          g_assert_cmpuint (n, >, 0);
          g_assert_cmpuint (n, <=, max);
          g_assert_cmpint (ddr_dns_parse_response (copy, n, &info), ==, DDR_DNS_OK);
          g_assert_true (info.flags & DDR_DNS_FLAG_TC);
          g_assert_cmpuint (info.id, ==, oinfo.id);
          g_assert_true (ddr_dns_same_question (&info, &oinfo));
          g_assert_cmpint (info.has_opt, ==, oinfo.has_opt);
          g_assert_cmpuint (info.udp_size, ==, oinfo.udp_size);
          g_assert_cmpuint (info.edns_flags, ==, oinfo.edns_flags);

          /* Only whole RR-sets, and a prefix of the original ones. */
          tn = collect_sets (copy, n, sets, G_N_ELEMENTS (sets));
          g_assert_cmpuint (tn, <, on);
          for (guint i = 0; i < tn; i++)
            {
              g_assert_cmpint (sets[i].section, ==, osets[i].section);
              g_assert_cmpuint (sets[i].type, ==, osets[i].type);
              g_assert_cmpuint (sets[i].count, ==, osets[i].count);
              g_assert_cmpmem (sets[i].owner, sets[i].owner_len, osets[i].owner, osets[i].owner_len);
            }
        }
    }
}

static void
test_truncate_rejects (void)
{
  Msg m;
  guint8 junk[40] = { 0, };

  build_big_response (&m, OPT_MIDDLE);
  /* Not a response: nothing sensible to cut. */
  m.buf[2] &= 0x7f;
  g_assert_cmpuint (ddr_dns_truncate (m.buf, m.len, 200), ==, 0);
  g_assert_cmpuint (ddr_dns_truncate (junk, sizeof junk, 20), ==, 0);
  g_assert_cmpuint (ddr_dns_truncate (junk, sizeof junk, 40), ==, 40);
}

/* The query "example.com IN A", flags RD|CD, optionally with OPT (DO set). */
static void
build_query (Msg *m, gboolean with_opt, const char *name)
{
  put_header (m, DDR_DNS_FLAG_RD | DDR_DNS_FLAG_CD, 1, 0, 0, with_opt ? 1 : 0);
  put_question (m, name, DDR_DNS_TYPE_A);
  if (with_opt)
    put_opt (m, 4096, DDR_DNS_EDNS_DO, 0);
}

static void
test_synthesize_ede (void)
{
  Msg q;
  DdrDnsInfo qinfo, info;
  guint8 out[512];
  gsize n;
  const guint8 expect[] = {
    0xbe, 0xef, 0x81, 0x92, 0, 1, 0, 0, 0, 0, 0, 1,
    7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
    0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 17,
    0, 15, 0, 13, 0, 22, 'n', 'o', ' ', 'u', 'p', 's', 't', 'r', 'e', 'a', 'm',
  };

  build_query (&q, TRUE, "example.com");
  g_assert_cmpint (ddr_dns_parse_query (q.buf, q.len, &qinfo), ==, DDR_DNS_OK);
  n = ddr_dns_synthesize (q.buf, q.len, &qinfo, DDR_DNS_RCODE_SERVFAIL,
                          DDR_DNS_EDE_NO_REACHABLE_AUTHORITY, "no upstream", out, sizeof out);
  g_assert_cmpmem (out, n, expect, sizeof expect);
  g_assert_cmpint (ddr_dns_parse_response (out, n, &info), ==, DDR_DNS_OK);
  g_assert_true (ddr_dns_same_question (&info, &qinfo));

  /* No text: just the info code. */
  n = ddr_dns_synthesize (q.buf, q.len, &qinfo, DDR_DNS_RCODE_REFUSED,
                          DDR_DNS_EDE_PROHIBITED, NULL, out, sizeof out);
  g_assert_cmpuint (n, ==, 29 + 11 + 6);
  g_assert_cmpmem (out + 29 + 11, 6, "\0\17\0\2\0\22", 6);
  g_assert_cmpuint (DDR_DNS_RCODE (ddr_dns_get16 (out + 2)), ==, DDR_DNS_RCODE_REFUSED);

  /* No EDE wanted: an empty OPT. */
  n = ddr_dns_synthesize (q.buf, q.len, &qinfo, DDR_DNS_RCODE_NXDOMAIN, -1, "x", out, sizeof out);
  g_assert_cmpuint (n, ==, 29 + 11);
  g_assert_cmpint (ddr_dns_parse_response (out, n, &info), ==, DDR_DNS_OK);
  g_assert_true (info.has_opt);
  g_assert_cmpuint (info.udp_size, ==, DDR_DNS_DEFAULT_UDP_SIZE);

  /* Too small a buffer. */
  g_assert_cmpuint (ddr_dns_synthesize (q.buf, q.len, &qinfo, DDR_DNS_RCODE_SERVFAIL,
                                        0, "no upstream!", out, sizeof expect), ==, 0);
}

static void
test_synthesize_plain (void)
{
  Msg q;
  DdrDnsInfo qinfo, info;
  guint8 out[512];
  gsize n;

  /* No OPT in the query: none in the answer, whatever the EDE arguments. */
  build_query (&q, FALSE, "Example.COM");
  g_assert_cmpint (ddr_dns_parse_query (q.buf, q.len, &qinfo), ==, DDR_DNS_OK);
  n = ddr_dns_synthesize (q.buf, q.len, &qinfo, DDR_DNS_RCODE_SERVFAIL,
                          DDR_DNS_EDE_NETWORK_ERROR, "x", out, sizeof out);
  g_assert_cmpuint (n, ==, q.len);
  g_assert_cmpint (ddr_dns_parse_response (out, n, &info), ==, DDR_DNS_OK);
  g_assert_false (info.has_opt);
  g_assert_cmpuint (info.flags, ==, 0x8192);
  /* Case is echoed as the client sent it. */
  g_assert_cmpmem (out + 12, q.len - 12, q.buf + 12, q.len - 12);

  /* Synthesising over the query buffer itself works. */
  n = ddr_dns_synthesize (q.buf, q.len, &qinfo, DDR_DNS_RCODE_REFUSED, -1, NULL, q.buf, sizeof q.buf);
  g_assert_cmpint (ddr_dns_parse_response (q.buf, n, &info), ==, DDR_DNS_OK);

  /* A question that never parsed: header only. */
  memset (&qinfo, 0, sizeof qinfo);
  qinfo.id = 7;
  qinfo.flags = DDR_DNS_FLAG_RD;
  n = ddr_dns_synthesize (q.buf, q.len, &qinfo, DDR_DNS_RCODE_FORMERR, -1, NULL, out, sizeof out);
  g_assert_cmpuint (n, ==, 12);
  g_assert_cmpmem (out, 12, "\0\7\x81\x81\0\0\0\0\0\0\0\0", 12);
}

static void
test_formerr_header (void)
{
  const guint8 query[] = { 0xab, 0xcd, 0x29, 0x00, 0, 5, 0, 0, 0, 0, 0, 0, 0xff };
  guint8 out[12];

  g_assert_cmpuint (ddr_dns_formerr_header (query, sizeof query, out), ==, 12);
  /* ID kept, opcode 5 (UPDATE) kept, QR and FORMERR set, counts zero. */
  g_assert_cmpmem (out, 12, "\xab\xcd\xa8\x01\0\0\0\0\0\0\0\0", 12);
  g_assert_cmpuint (ddr_dns_formerr_header (query, 11, out), ==, 0);
}

static void
test_ttls (void)
{
  Msg m;
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;
  guint opt_seen = 0;

  build_big_response (&m, OPT_MIDDLE);
  ddr_dns_age_ttls (m.buf, m.len, 301);
  ddr_dns_record_iter_init (&iter, m.buf, m.len);
  while (ddr_dns_record_iter_next (&iter, &rec))
    {
      if (rec.type == DDR_DNS_TYPE_OPT)
        {
          g_assert_cmpuint (rec.ttl, ==, DDR_DNS_EDNS_DO);
          opt_seen++;
        }
      else if (rec.type == DDR_DNS_TYPE_A && rec.section == DDR_DNS_SECTION_ANSWER)
        g_assert_cmpuint (rec.ttl, ==, 0);
      else if (rec.type == DDR_DNS_TYPE_CNAME)
        g_assert_cmpuint (rec.ttl, ==, 3600 - 301);
      else
        g_assert_cmpuint (rec.ttl, ==, 86400 - 301);
    }
  g_assert_cmpuint (opt_seen, ==, 1);

  ddr_dns_set_ttls (m.buf, m.len, 30);
  ddr_dns_record_iter_init (&iter, m.buf, m.len);
  while (ddr_dns_record_iter_next (&iter, &rec))
    g_assert_cmpuint (rec.ttl, ==, rec.type == DDR_DNS_TYPE_OPT ? DDR_DNS_EDNS_DO : 30);
  g_assert_cmpint (iter.status, ==, DDR_DNS_OK);

  /* Big ageing floors at 0 and a malformed message is left alone. */
  ddr_dns_age_ttls (m.buf, m.len, G_MAXUINT32);
  ddr_dns_age_ttls (m.buf, 20, 1);
  ddr_dns_age_ttls (m.buf, 3, 1);
  ddr_dns_record_iter_init (&iter, m.buf, m.len);
  while (ddr_dns_record_iter_next (&iter, &rec))
    g_assert_cmpuint (rec.ttl, ==, rec.type == DDR_DNS_TYPE_OPT ? DDR_DNS_EDNS_DO : 0);
}

static guint
count_options (const guint8 *msg, gsize len, guint16 code)
{
  DdrDnsInfo info;
  gsize o, end;
  guint n = 0;

  g_assert_true (ddr_dns_parse_query (msg, len, &info) == DDR_DNS_OK ||
                 ddr_dns_parse_response (msg, len, &info) == DDR_DNS_OK);
  if (!info.has_opt)
    return 0;
  o = info.opt_offset + 11;
  end = info.opt_offset + info.opt_len;
  while (o < end)
    {
      if (ddr_dns_get16 (msg + o) == code)
        n++;
      o += 4 + ddr_dns_get16 (msg + o + 2);
    }
  return n;
}

typedef enum { PAD_NO_OPT, PAD_BARE_OPT, PAD_CLIENT_PADDING, PAD_MIXED } PadCase;

static void
build_pad_query (Msg *m, PadCase c, guint name_len)
{
  g_autofree char *label = g_strnfill (name_len, 'q');
  g_autofree char *name = g_strconcat (label, ".example", NULL);

  build_query (m, FALSE, name);
  if (c == PAD_NO_OPT)
    return;
  m->buf[11] = 1;
  if (c == PAD_BARE_OPT)
    {
      put_opt (m, 4096, DDR_DNS_EDNS_DO, 0);
      return;
    }
  if (c == PAD_CLIENT_PADDING)
    {
      put_opt (m, 4096, DDR_DNS_EDNS_DO, 4 + 7);
      put16 (m, DDR_DNS_OPT_PADDING);
      put16 (m, 7);
      for (guint i = 0; i < 7; i++)
        put8 (m, 0);
      return;
    }
  /* cookie, padding, cookie */
  put_opt (m, 4096, DDR_DNS_EDNS_DO, 12 + 7 + 12);
  put16 (m, 10);
  put16 (m, 8);
  put32 (m, 0x01020304);
  put32 (m, 0x05060708);
  put16 (m, DDR_DNS_OPT_PADDING);
  put16 (m, 3);
  put8 (m, 0);
  put8 (m, 0);
  put8 (m, 0);
  put16 (m, 10);
  put16 (m, 8);
  put32 (m, 0x11121314);
  put32 (m, 0x15161718);
}

static void
test_pad_query (void)
{
  const gsize blocks[] = { DDR_DNS_PADDING_BLOCK, 468, 1 };

  for (guint b = 0; b < G_N_ELEMENTS (blocks); b++)
    for (PadCase c = PAD_NO_OPT; c <= PAD_MIXED; c++)
      for (guint name_len = 1; name_len <= 63; name_len++)
        {
          Msg m;
          DdrDnsInfo info;
          gsize n;

          build_pad_query (&m, c, name_len);
          n = ddr_dns_pad_query (m.buf, m.len, sizeof m.buf, blocks[b]);
          g_assert_cmpuint (n, >, 0);
          g_assert_cmpuint (n % blocks[b], ==, 0);
          g_assert_cmpuint (n, <, m.len + blocks[b] + 4 + 11 + 1);
          g_assert_cmpint (ddr_dns_parse_query (m.buf, n, &info), ==, DDR_DNS_OK);
          g_assert_true (info.has_opt);
          g_assert_true (info.has_padding);
          g_assert_cmpuint (count_options (m.buf, n, DDR_DNS_OPT_PADDING), ==, 1);
          g_assert_cmpuint (info.udp_size, ==, c == PAD_NO_OPT ? DDR_DNS_DEFAULT_UDP_SIZE : 4096);
          g_assert_cmpuint (info.edns_flags, ==, c == PAD_NO_OPT ? 0 : DDR_DNS_EDNS_DO);
          g_assert_cmpuint (count_options (m.buf, n, 10), ==, c == PAD_MIXED ? 2 : 0);
          if (c == PAD_MIXED)
            {
              /* The cookies survive in order around the removed padding. */
              g_assert_cmpmem (m.buf + info.opt_offset + 11, 12,
                               "\0\12\0\10\1\2\3\4\5\6\7\10", 12);
              g_assert_cmpmem (m.buf + info.opt_offset + 23, 12,
                               "\0\12\0\10\21\22\23\24\25\26\27\30", 12);
            }
        }
}

static void
test_pad_query_limits (void)
{
  Msg m;
  gsize n;

  /* Not enough room for the OPT, then for the padding. */
  build_pad_query (&m, PAD_NO_OPT, 10);
  g_assert_cmpuint (ddr_dns_pad_query (m.buf, m.len, m.len + 10, 128), ==, 0);
  build_pad_query (&m, PAD_NO_OPT, 10);
  g_assert_cmpuint (ddr_dns_pad_query (m.buf, m.len, 127, 128), ==, 0);
  build_pad_query (&m, PAD_NO_OPT, 10);
  g_assert_cmpuint (ddr_dns_pad_query (m.buf, m.len, 128, 128), ==, 128);

  /* Block 0: strip and make sure there is an OPT, add no padding. */
  build_pad_query (&m, PAD_CLIENT_PADDING, 10);
  n = ddr_dns_pad_query (m.buf, m.len, sizeof m.buf, 0);
  g_assert_cmpuint (n, ==, m.len - 11);
  g_assert_cmpuint (count_options (m.buf, n, DDR_DNS_OPT_PADDING), ==, 0);

  /* A response is not a query. */
  build_big_response (&m, OPT_END);
  g_assert_cmpuint (ddr_dns_pad_query (m.buf, m.len, sizeof m.buf, 128), ==, 0);
}

/* The last record's owner, decompressed, as text. */
static char *
last_owner (const guint8 *msg, gsize len)
{
  DdrDnsRecordIter iter;
  DdrDnsRecord rec, last = { 0, };
  guint8 name[DDR_DNS_MAX_NAME];
  gsize name_len, pos;

  ddr_dns_record_iter_init (&iter, msg, len);
  while (ddr_dns_record_iter_next (&iter, &rec))
    last = rec;
  pos = last.start;
  g_assert_true (ddr_dns_read_name (msg, len, &pos, name, &name_len));
  return ddr_dns_name_to_string (name, name_len);
}

static void
test_strip_opt (void)
{
  for (OptPlace place = OPT_NONE; place <= OPT_END; place++)
    {
      Msg m;
      DdrDnsInfo before, after;
      gsize n;
      g_autofree char *owner = NULL;

      build_big_response (&m, place);
      g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &before), ==, DDR_DNS_OK);
      n = ddr_dns_strip_opt (m.buf, m.len);
      g_assert_cmpuint (n, ==, m.len - before.opt_len);
      g_assert_cmpint (ddr_dns_parse_response (m.buf, n, &after), ==, DDR_DNS_OK);
      g_assert_false (after.has_opt);
      g_assert_cmpuint (after.arcount, ==, before.arcount - (before.has_opt ? 1 : 0));
      /* Pointers after the OPT were moved with the bytes they point at. */
      owner = last_owner (m.buf, n);
      g_assert_cmpstr (owner, ==, "ns3.example.org.");
    }
}

static void
test_strip_option (void)
{
  Msg m;
  DdrDnsInfo info;
  gsize n;
  g_autofree char *owner = NULL;

  build_big_response (&m, OPT_MIDDLE);
  g_assert_cmpuint (count_options (m.buf, m.len, DDR_DNS_OPT_EDE), ==, 1);
  n = ddr_dns_strip_option (m.buf, m.len, DDR_DNS_OPT_EDE);
  g_assert_cmpuint (n, ==, m.len - 6);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, n, &info), ==, DDR_DNS_OK);
  g_assert_cmpuint (info.opt_len, ==, 11);
  g_assert_cmpuint (count_options (m.buf, n, DDR_DNS_OPT_EDE), ==, 0);
  owner = last_owner (m.buf, n);
  g_assert_cmpstr (owner, ==, "ns3.example.org.");

  /* Nothing to strip: unchanged. */
  g_assert_cmpuint (ddr_dns_strip_option (m.buf, n, DDR_DNS_OPT_EDE), ==, n);
  build_big_response (&m, OPT_NONE);
  g_assert_cmpuint (ddr_dns_strip_option (m.buf, m.len, DDR_DNS_OPT_EDE), ==, m.len);
  g_assert_cmpuint (ddr_dns_strip_opt (m.buf, m.len), ==, m.len);
}

typedef enum { ALIAS_QNAME, ALIAS_RDLENGTH, ALIAS_VIA_OPTION } AliasCase;

/* A query with an OPT and then an A record whose owner is a pointer: to the
 * question name (fine), to the low byte of the OPT RDLENGTH (0, so the root),
 * or to a name in an option's data that itself ends on that byte. Found by
 * fuzz-dns (regress-name-on-opt-rdlength.bin): padding rewrites the RDLENGTH,
 * and the owner turned into a label running off into the padding. */
static void
build_aliased_query (Msg *m, AliasCase c)
{
  gsize opt, target = DDR_DNS_HEADER_LEN;

  put_header (m, DDR_DNS_FLAG_RD, 1, 0, 0, 2);
  put_question (m, "example.org", DDR_DNS_TYPE_A);
  opt = m->len;
  if (c == ALIAS_VIA_OPTION)
    {
      /* 256 bytes of options, so the low byte is 0 here too. */
      put_opt (m, 1232, 0, 256);
      put16 (m, 65001);   /* RFC 6891 §9: for local use */
      put16 (m, 252);
      target = put_name_ptr (m, "x", opt + 10);
      for (guint i = 4; i < 252; i++)
        put8 (m, 0);
    }
  else
    {
      put_opt (m, 1232, 0, 0);
      if (c == ALIAS_RDLENGTH)
        target = opt + 10;
    }
  put_a (m, target, 60, 0x7f000001);
}

static void
test_pad_query_aliased_rdlength (void)
{
  for (AliasCase c = ALIAS_QNAME; c <= ALIAS_VIA_OPTION; c++)
    {
      Msg m, orig;
      DdrDnsInfo info;
      gsize n;
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;

      build_aliased_query (&m, c);
      orig = m;
      g_assert_cmpint (ddr_dns_parse_query (m.buf, m.len, &info), ==, DDR_DNS_OK);
      before = last_owner (m.buf, m.len);

      n = ddr_dns_pad_query (m.buf, m.len, sizeof m.buf, DDR_DNS_PADDING_BLOCK);
      if (c == ALIAS_QNAME)
        {
          g_assert_cmpuint (n % DDR_DNS_PADDING_BLOCK, ==, 0);
          g_assert_cmpint (ddr_dns_parse_query (m.buf, n, &info), ==, DDR_DNS_OK);
          g_assert_true (info.has_padding);
          after = last_owner (m.buf, n);
          g_assert_cmpstr (after, ==, "example.org.");
        }
      else
        {
          /* Refused, and the query is left exactly as it was for the relay
           * to send unpadded. */
          g_assert_cmpuint (n, ==, 0);
          g_assert_cmpmem (m.buf, m.len, orig.buf, orig.len);
          g_assert_cmpstr (before, ==, c == ALIAS_RDLENGTH ? "." : "x.");
        }
    }
}

/* The same aliasing in a response: stripping the padding would turn the
 * RDLENGTH's low byte from 0 into 0xfc, which reads as a bad pointer. */
static void
test_strip_option_aliased_rdlength (void)
{
  Msg m, orig;
  DdrDnsInfo info;
  gsize opt, n;
  g_autofree char *owner = NULL;

  put_header (&m, DDR_DNS_FLAG_QR | DDR_DNS_FLAG_RD | DDR_DNS_FLAG_RA, 1, 0, 0, 2);
  put_question (&m, "example.org", DDR_DNS_TYPE_A);
  opt = m.len;
  put_opt (&m, 1232, 0, 256);
  put16 (&m, DDR_DNS_OPT_PADDING);
  put16 (&m, 0);
  put16 (&m, 65001);
  put16 (&m, 248);
  for (guint i = 0; i < 248; i++)
    put8 (&m, 0);
  put_a (&m, opt + 10, 60, 0x7f000001);
  orig = m;
  g_assert_cmpint (ddr_dns_parse_response (m.buf, m.len, &info), ==, DDR_DNS_OK);

  /* Left in place rather than corrupt the name. */
  n = ddr_dns_strip_option (m.buf, m.len, DDR_DNS_OPT_PADDING);
  g_assert_cmpuint (n, ==, m.len);
  g_assert_cmpmem (m.buf, n, orig.buf, orig.len);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, n, &info), ==, DDR_DNS_OK);
  owner = last_owner (m.buf, n);
  g_assert_cmpstr (owner, ==, ".");

  /* Removing the whole OPT would take the byte the name reads with it. */
  n = ddr_dns_strip_opt (m.buf, m.len);
  g_assert_cmpuint (n, ==, m.len);
  g_assert_cmpint (ddr_dns_parse_response (m.buf, n, &info), ==, DDR_DNS_OK);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/dns-edit/truncate/round-trip", test_truncate_round_trip);
  g_test_add_func ("/dns-edit/truncate/rejects", test_truncate_rejects);
  g_test_add_func ("/dns-edit/synthesize/ede", test_synthesize_ede);
  g_test_add_func ("/dns-edit/synthesize/plain", test_synthesize_plain);
  g_test_add_func ("/dns-edit/formerr-header", test_formerr_header);
  g_test_add_func ("/dns-edit/ttls", test_ttls);
  g_test_add_func ("/dns-edit/pad-query/sizes", test_pad_query);
  g_test_add_func ("/dns-edit/pad-query/limits", test_pad_query_limits);
  g_test_add_func ("/dns-edit/strip-opt", test_strip_opt);
  g_test_add_func ("/dns-edit/strip-option", test_strip_option);
  g_test_add_func ("/dns-edit/pad-query/aliased-rdlength", test_pad_query_aliased_rdlength);
  g_test_add_func ("/dns-edit/strip-option/aliased-rdlength", test_strip_option_aliased_rdlength);

  return g_test_run ();
}
