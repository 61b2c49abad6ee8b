/* Unit tests for the answer cache: what is stored, for how long, keys, LRU, serve-stale. */
#include "ddr-dns-cache.h"
#include "ddr-dns-wire.h"

#include <string.h>

#define T0 1000   /* an arbitrary monotonic "now" for inserts */

/* What the message builder makes: a query, or a response to it. */
typedef struct {
  const char *name;         /* question and answer owner */
  guint16     qtype;        /* 0 = A */
  guint16     id;
  guint16     flags;        /* extra header bits: CD, TC, AA */
  guint       rcode;
  gboolean    response;
  guint       n_answers;
  guint32     answer_ttl;
  gboolean    soa;          /* an SOA for example.com in authority */
  guint32     soa_ttl;
  guint32     soa_minimum;
  gboolean    edns;         /* an OPT record */
  gboolean    dnssec_ok;    /* DO in the OPT */
  guint8      first_octet;  /* varies the answer data between otherwise equal messages */
} Msg;

static void
put_name (GByteArray *out, const char *name)
{
  g_auto(GStrv) labels = g_strsplit (name, ".", -1);
  guint8 zero = 0;

  for (guint i = 0; labels[i] != NULL; i++)
    {
      guint8 len = (guint8) strlen (labels[i]);

      if (len == 0)
        continue;
      g_byte_array_append (out, &len, 1);
      g_byte_array_append (out, (const guint8 *) labels[i], len);
    }
  g_byte_array_append (out, &zero, 1);
}

static void
put16 (GByteArray *out, guint16 v)
{
  guint8 b[2];

  ddr_dns_put16 (b, v);
  g_byte_array_append (out, b, 2);
}

static void
put32 (GByteArray *out, guint32 v)
{
  guint8 b[4];

  ddr_dns_put32 (b, v);
  g_byte_array_append (out, b, 4);
}

static GByteArray *
build (const Msg *m)
{
  GByteArray *out = g_byte_array_new ();
  guint16 qtype = m->qtype != 0 ? m->qtype : DDR_DNS_TYPE_A;
  guint16 flags = DDR_DNS_FLAG_RD | m->flags;
  guint n_answers = m->response ? m->n_answers : 0;
  gboolean soa = m->response && m->soa;

  if (m->response)
    flags |= DDR_DNS_FLAG_QR | DDR_DNS_FLAG_RA | (m->rcode & 0xf);

  put16 (out, m->id);
  put16 (out, flags);
  put16 (out, 1);
  put16 (out, (guint16) n_answers);
  put16 (out, soa ? 1 : 0);
  put16 (out, m->edns ? 1 : 0);

  put_name (out, m->name);
  put16 (out, qtype);
  put16 (out, DDR_DNS_CLASS_IN);

  for (guint i = 0; i < n_answers; i++)
    {
      guint8 addr[4] = { m->first_octet ? m->first_octet : 192, 0, 2, (guint8) (i + 1) };

      put_name (out, m->name);
      put16 (out, DDR_DNS_TYPE_A);
      put16 (out, DDR_DNS_CLASS_IN);
      put32 (out, m->answer_ttl);
      put16 (out, 4);
      g_byte_array_append (out, addr, 4);
    }

  if (soa)
    {
      GByteArray *rdata = g_byte_array_new ();

      put_name (rdata, "ns.example.com");
      put_name (rdata, "hostmaster.example.com");
      put32 (rdata, 2024010101);
      put32 (rdata, 7200);
      put32 (rdata, 3600);
      put32 (rdata, 1209600);
      put32 (rdata, m->soa_minimum);

      put_name (out, "example.com");
      put16 (out, DDR_DNS_TYPE_SOA);
      put16 (out, DDR_DNS_CLASS_IN);
      put32 (out, m->soa_ttl);
      put16 (out, (guint16) rdata->len);
      g_byte_array_append (out, rdata->data, rdata->len);
      g_byte_array_unref (rdata);
    }

  if (m->edns)
    {
      put_name (out, "");
      put16 (out, DDR_DNS_TYPE_OPT);
      put16 (out, 1232);
      put32 (out, m->dnssec_ok ? DDR_DNS_EDNS_DO : 0);
      put16 (out, 0);
    }

  return out;
}

static void
parse_query (const Msg *m, DdrDnsInfo *info)
{
  Msg q = *m;
  g_autoptr(GByteArray) bytes = NULL;

  q.response = FALSE;
  q.flags &= (guint16) ~DDR_DNS_FLAG_TC;
  bytes = build (&q);
  memset (info, 0, sizeof *info);
  g_assert_cmpint (ddr_dns_parse_query (bytes->data, bytes->len, info), ==, DDR_DNS_OK);
}

/* Insert the response described by m (and the query it answers); returns what insert said. */
static gboolean
insert (DdrDnsCache *cache, const Msg *m, gint64 now_s)
{
  Msg r = *m;
  g_autoptr(GByteArray) resp = NULL;
  DdrDnsInfo qinfo, rinfo;

  r.response = TRUE;
  resp = build (&r);
  parse_query (m, &qinfo);
  memset (&rinfo, 0, sizeof rinfo);
  g_assert_cmpint (ddr_dns_parse_response (resp->data, resp->len, &rinfo), ==, DDR_DNS_OK);
  return ddr_dns_cache_insert (cache, &qinfo, resp->data, resp->len, &rinfo, now_s);
}

static DdrDnsCacheResult
lookup (DdrDnsCache *cache, const Msg *m, gint64 now_s, gboolean allow_stale,
        guint8 *out, gsize *out_len)
{
  DdrDnsInfo qinfo;

  parse_query (m, &qinfo);
  return ddr_dns_cache_lookup (cache, &qinfo, now_s, allow_stale, out, DDR_DNS_MAX_MSG, out_len);
}

/* The TTL of every non-OPT record, in order (our builder never compresses). */
static GArray *
read_ttls (const guint8 *msg, gsize len)
{
  GArray *ttls = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint n = ddr_dns_get16 (msg + 6) + ddr_dns_get16 (msg + 8) + ddr_dns_get16 (msg + 10);
  gsize off = DDR_DNS_HEADER_LEN;

  while (msg[off] != 0)
    off += msg[off] + 1;
  off += 1 + 4;

  for (guint i = 0; i < n; i++)
    {
      guint16 type;
      guint32 ttl;

      while (msg[off] != 0)
        off += msg[off] + 1;
      off += 1;
      g_assert_cmpuint (off + 10, <=, len);
      type = ddr_dns_get16 (msg + off);
      ttl = ddr_dns_get32 (msg + off + 4);
      if (type != DDR_DNS_TYPE_OPT)
        g_array_append_val (ttls, ttl);
      off += 10 + ddr_dns_get16 (msg + off + 8);
    }
  g_assert_cmpuint (off, ==, len);
  return ttls;
}

static void
assert_all_ttls (const guint8 *msg, gsize len, guint32 expected)
{
  g_autoptr(GArray) ttls = read_ttls (msg, len);

  g_assert_cmpuint (ttls->len, >, 0);
  for (guint i = 0; i < ttls->len; i++)
    g_assert_cmpuint (g_array_index (ttls, guint32, i), ==, expected);
}

static const Msg www = {
  .name = "www.example.com", .id = 0x1234, .n_answers = 2, .answer_ttl = 300,
};

/* Status of a lookup, ignoring the answer. */
static DdrDnsCacheResult
probe (DdrDnsCache *cache, const Msg *m, gint64 now_s, gboolean allow_stale)
{
  guint8 out[DDR_DNS_MAX_MSG];
  gsize out_len;

  return lookup (cache, m, now_s, allow_stale, out, &out_len);
}

static void
test_cache_hit_aged (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (100, 0, 86400);
  g_autoptr(GByteArray) original = NULL;
  Msg m = www, q = www;
  guint8 out[DDR_DNS_MAX_MSG];
  gsize out_len = 0;

  m.response = TRUE;
  original = build (&m);

  g_assert_true (insert (cache, &www, T0));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 1);

  /* The answer is the stored one with its TTLs aged and the asker's ID. */
  q.id = 0xbeef;
  g_assert_cmpint (lookup (cache, &q, T0 + 100, FALSE, out, &out_len), ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpuint (out_len, ==, original->len);
  g_assert_cmpuint (ddr_dns_get16 (out), ==, 0xbeef);
  assert_all_ttls (out, out_len, 200);
  g_assert_cmpmem (out + 2, DDR_DNS_HEADER_LEN - 2, original->data + 2, DDR_DNS_HEADER_LEN - 2);

  /* Ageing works on the copy: the stored answer is untouched. */
  q.id = 7;
  g_assert_cmpint (lookup (cache, &q, T0 + 1, FALSE, out, &out_len), ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpuint (ddr_dns_get16 (out), ==, 7);
  assert_all_ttls (out, out_len, 299);
  g_assert_cmpint (lookup (cache, &q, T0, FALSE, out, &out_len), ==, DDR_DNS_CACHE_HIT);
  assert_all_ttls (out, out_len, 300);
  ddr_dns_set_id (out, www.id);
  g_assert_cmpmem (out, out_len, original->data, original->len);
}

static void
test_cache_expiry (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (100, 0, 86400);
  guint8 out[DDR_DNS_MAX_MSG];
  gsize out_len = 0;

  g_assert_true (insert (cache, &www, T0));
  g_assert_cmpint (lookup (cache, &www, T0 + 299, FALSE, out, &out_len), ==, DDR_DNS_CACHE_HIT);
  assert_all_ttls (out, out_len, 1);
  g_assert_cmpint (lookup (cache, &www, T0 + 300, FALSE, out, &out_len), ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpuint (out_len, ==, 0);
  g_assert_cmpint (probe (cache, &www, T0 + 5000, FALSE), ==, DDR_DNS_CACHE_MISS);

  /* The smallest TTL of the answer decides. */
  {
    Msg m = www;

    m.name = "short.example.com";
    m.answer_ttl = 20;
    m.soa = TRUE;             /* authority counts too */
    m.soa_ttl = 10;
    m.soa_minimum = 3000;
    g_assert_true (insert (cache, &m, T0));
    g_assert_cmpint (probe (cache, &m, T0 + 9, FALSE), ==, DDR_DNS_CACHE_HIT);
    g_assert_cmpint (probe (cache, &m, T0 + 10, FALSE), ==, DDR_DNS_CACHE_MISS);
  }
}

static void
test_cache_negative_nxdomain (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (100, 0, 86400);
  Msg m = {
    .name = "nope.example.com", .rcode = DDR_DNS_RCODE_NXDOMAIN,
    .soa = TRUE, .soa_ttl = 3600, .soa_minimum = 60,
  };
  Msg no_soa = m;
  guint8 out[DDR_DNS_MAX_MSG];
  gsize out_len = 0;

  /* RFC 2308: min (SOA TTL, SOA MINIMUM). */
  g_assert_true (insert (cache, &m, T0));
  g_assert_cmpint (lookup (cache, &m, T0 + 59, FALSE, out, &out_len), ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpuint (DDR_DNS_RCODE (ddr_dns_get16 (out + 2)), ==, DDR_DNS_RCODE_NXDOMAIN);
  assert_all_ttls (out, out_len, 3600 - 59);
  g_assert_cmpint (probe (cache, &m, T0 + 60, FALSE), ==, DDR_DNS_CACHE_MISS);

  m.name = "other.example.com";
  m.soa_ttl = 30;
  m.soa_minimum = 600;
  g_assert_true (insert (cache, &m, T0));
  g_assert_cmpint (probe (cache, &m, T0 + 29, FALSE), ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpint (probe (cache, &m, T0 + 30, FALSE), ==, DDR_DNS_CACHE_MISS);

  /* Without an SOA there is nothing to say how long "no" lasts. */
  no_soa.name = "nosoa.example.com";
  no_soa.soa = FALSE;
  g_assert_false (insert (cache, &no_soa, T0));
  g_assert_cmpint (probe (cache, &no_soa, T0, FALSE), ==, DDR_DNS_CACHE_MISS);
}

static void
test_cache_nodata (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (100, 0, 86400);
  Msg m = {
    .name = "www.example.com", .qtype = DDR_DNS_TYPE_AAAA,
    .soa = TRUE, .soa_ttl = 900, .soa_minimum = 120,
  };
  Msg no_soa = m;

  g_assert_true (insert (cache, &m, T0));
  g_assert_cmpint (probe (cache, &m, T0 + 119, FALSE), ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpint (probe (cache, &m, T0 + 120, FALSE), ==, DDR_DNS_CACHE_MISS);
  /* The type is part of the key: the A question is not answered by it. */
  g_assert_cmpint (probe (cache, &www, T0, FALSE), ==, DDR_DNS_CACHE_MISS);

  no_soa.name = "bare.example.com";
  no_soa.soa = FALSE;
  g_assert_false (insert (cache, &no_soa, T0));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 1);
}

static void
test_cache_errors_not_cached (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (100, 0, 86400);
  const guint rcodes[] = { DDR_DNS_RCODE_SERVFAIL, DDR_DNS_RCODE_REFUSED,
                           DDR_DNS_RCODE_FORMERR, DDR_DNS_RCODE_NOTIMP };

  for (gsize i = 0; i < G_N_ELEMENTS (rcodes); i++)
    {
      /* Even with an SOA that would give it a negative TTL. */
      Msg m = { .name = "fail.example.com", .rcode = rcodes[i],
                .soa = TRUE, .soa_ttl = 300, .soa_minimum = 300 };

      g_assert_false (insert (cache, &m, T0));
      g_assert_cmpint (probe (cache, &m, T0, TRUE), ==, DDR_DNS_CACHE_MISS);
    }
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 0);
}

static void
test_cache_tc_not_cached (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (100, 0, 86400);
  Msg m = www;
  Msg neg = { .name = "gone.example.com", .rcode = DDR_DNS_RCODE_NXDOMAIN,
              .soa = TRUE, .soa_ttl = 300, .soa_minimum = 300, .flags = DDR_DNS_FLAG_TC };

  m.flags = DDR_DNS_FLAG_TC;
  g_assert_false (insert (cache, &m, T0));
  g_assert_false (insert (cache, &neg, T0));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 0);
}

static void
test_cache_ttl_zero (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (100, 60, 86400);
  Msg m = www;
  Msg neg = { .name = "gone.example.com", .rcode = DDR_DNS_RCODE_NXDOMAIN,
              .soa = TRUE, .soa_ttl = 300, .soa_minimum = 0 };

  /* min_ttl raises short TTLs, but 0 means "do not cache" and stays so. */
  m.answer_ttl = 0;
  g_assert_false (insert (cache, &m, T0));
  g_assert_false (insert (cache, &neg, T0));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 0);
}

static void
test_cache_case_insensitive (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (100, 0, 86400);
  Msg shouty = www;

  g_assert_true (insert (cache, &www, T0));
  shouty.name = "WwW.Example.COM";
  g_assert_cmpint (probe (cache, &shouty, T0 + 1, FALSE), ==, DDR_DNS_CACHE_HIT);

  /* And the other way round: it replaces, not adds. */
  g_assert_true (insert (cache, &shouty, T0));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 1);
  g_assert_cmpint (probe (cache, &www, T0 + 1, FALSE), ==, DDR_DNS_CACHE_HIT);
}

static void
test_cache_do_cd_keys (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (100, 0, 86400);
  Msg plain = www, opt = www, dnssec = www, cd = www, both = www;

  opt.edns = TRUE;
  dnssec.edns = TRUE;
  dnssec.dnssec_ok = TRUE;
  cd.flags = DDR_DNS_FLAG_CD;
  both.edns = TRUE;
  both.dnssec_ok = TRUE;
  both.flags = DDR_DNS_FLAG_CD;

  g_assert_true (insert (cache, &dnssec, T0));
  g_assert_cmpint (probe (cache, &dnssec, T0, FALSE), ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpint (probe (cache, &plain, T0, FALSE), ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpint (probe (cache, &opt, T0, FALSE), ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpint (probe (cache, &cd, T0, FALSE), ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpint (probe (cache, &both, T0, FALSE), ==, DDR_DNS_CACHE_MISS);

  g_assert_true (insert (cache, &plain, T0));
  g_assert_true (insert (cache, &cd, T0));
  g_assert_true (insert (cache, &both, T0));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 4);

  /* EDNS without DO asks the same as no EDNS: one entry serves both. */
  g_assert_cmpint (probe (cache, &opt, T0, FALSE), ==, DDR_DNS_CACHE_HIT);
  g_assert_true (insert (cache, &opt, T0));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 4);
}

static Msg
numbered (guint i, char *buf, gsize len)
{
  Msg m = www;

  g_snprintf (buf, len, "host%u.example.com", i);
  m.name = buf;
  return m;
}

static void
test_cache_lru (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (3, 0, 86400);
  char na[64], nb[64], nc[64], nd[64];
  Msg a = numbered (1, na, sizeof na), b = numbered (2, nb, sizeof nb);
  Msg c = numbered (3, nc, sizeof nc), d = numbered (4, nd, sizeof nd);

  g_assert_true (insert (cache, &a, T0));
  g_assert_true (insert (cache, &b, T0));
  g_assert_true (insert (cache, &c, T0));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 3);

  /* Using a makes b the least recently used. */
  g_assert_cmpint (probe (cache, &a, T0 + 1, FALSE), ==, DDR_DNS_CACHE_HIT);
  g_assert_true (insert (cache, &d, T0 + 2));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 3);
  g_assert_cmpint (probe (cache, &b, T0 + 2, FALSE), ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpint (probe (cache, &a, T0 + 2, FALSE), ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpint (probe (cache, &c, T0 + 2, FALSE), ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpint (probe (cache, &d, T0 + 2, FALSE), ==, DDR_DNS_CACHE_HIT);

  /* Replacing an entry makes it the most recent and does not evict. Order now
   * (old → new): a c d; replacing a gives c d a; inserting b evicts c. */
  g_assert_true (insert (cache, &a, T0 + 3));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 3);
  g_assert_true (insert (cache, &b, T0 + 3));
  g_assert_cmpint (probe (cache, &c, T0 + 3, FALSE), ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 3);
}

static void
test_cache_many (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (500, 0, 86400);

  for (guint i = 0; i < 2000; i++)
    {
      char name[64];
      Msg m = numbered (i, name, sizeof name);

      g_assert_true (insert (cache, &m, T0));
      g_assert_cmpuint (ddr_dns_cache_size (cache), ==, MIN (i + 1, 500));
    }
  for (guint i = 0; i < 2000; i++)
    {
      char name[64];
      Msg m = numbered (i, name, sizeof name);

      g_assert_cmpint (probe (cache, &m, T0, FALSE), ==,
                       i >= 1500 ? DDR_DNS_CACHE_HIT : DDR_DNS_CACHE_MISS);
    }
}

static void
test_cache_replace (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (10, 0, 86400);
  Msg second = www;
  guint8 out[DDR_DNS_MAX_MSG];
  gsize out_len;

  g_assert_true (insert (cache, &www, T0));
  second.first_octet = 198;
  second.answer_ttl = 50;
  g_assert_true (insert (cache, &second, T0 + 10));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 1);

  g_assert_cmpint (lookup (cache, &www, T0 + 20, FALSE, out, &out_len), ==, DDR_DNS_CACHE_HIT);
  assert_all_ttls (out, out_len, 40);
  g_assert_cmpuint (out[out_len - 4], ==, 198);
  g_assert_cmpint (probe (cache, &www, T0 + 60, FALSE), ==, DDR_DNS_CACHE_MISS);
}

static void
test_cache_flush (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (10, 0, 86400);
  Msg other = www;

  other.name = "mail.example.com";
  g_assert_true (insert (cache, &www, T0));
  g_assert_true (insert (cache, &other, T0));
  ddr_dns_cache_flush (cache);
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 0);
  g_assert_cmpint (probe (cache, &www, T0, TRUE), ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpint (probe (cache, &other, T0, TRUE), ==, DDR_DNS_CACHE_MISS);

  /* Still usable afterwards. */
  g_assert_true (insert (cache, &www, T0));
  g_assert_cmpint (probe (cache, &www, T0, FALSE), ==, DDR_DNS_CACHE_HIT);
}

static void
test_cache_set_limits (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (5, 0, 86400);
  char names[5][64];
  Msg m[5];

  for (guint i = 0; i < 5; i++)
    {
      m[i] = numbered (i, names[i], sizeof names[i]);
      g_assert_true (insert (cache, &m[i], T0 + i));
    }

  /* Shrinking keeps the most recently used. */
  ddr_dns_cache_set_limits (cache, 2, 0, 86400);
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 2);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpint (probe (cache, &m[i], T0 + 5, FALSE), ==,
                     i >= 3 ? DDR_DNS_CACHE_HIT : DDR_DNS_CACHE_MISS);
  g_assert_true (insert (cache, &m[0], T0 + 6));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 2);

  /* 0 disables: everything goes, nothing is stored or found. */
  ddr_dns_cache_set_limits (cache, 0, 0, 86400);
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 0);
  g_assert_false (insert (cache, &m[1], T0 + 7));
  g_assert_cmpint (probe (cache, &m[1], T0 + 7, TRUE), ==, DDR_DNS_CACHE_MISS);

  /* And growing again enables it. */
  ddr_dns_cache_set_limits (cache, 10, 0, 86400);
  g_assert_true (insert (cache, &m[1], T0 + 8));
  g_assert_cmpint (probe (cache, &m[1], T0 + 8, FALSE), ==, DDR_DNS_CACHE_HIT);
}

static void
test_cache_disabled (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (0, 0, 86400);

  g_assert_false (insert (cache, &www, T0));
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 0);
  g_assert_cmpint (probe (cache, &www, T0, TRUE), ==, DDR_DNS_CACHE_MISS);
}

static void
test_cache_clamps (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (10, 60, 3600);
  Msg low = www, high = www;
  Msg neg = { .name = "gone.example.com", .rcode = DDR_DNS_RCODE_NXDOMAIN,
              .soa = TRUE, .soa_ttl = 5, .soa_minimum = 5 };
  guint8 out[DDR_DNS_MAX_MSG];
  gsize out_len;

  /* Raised to min_ttl: kept for 60 s; the TTLs in the answer age to 0, not below. */
  low.name = "low.example.com";
  low.answer_ttl = 10;
  g_assert_true (insert (cache, &low, T0));
  g_assert_cmpint (lookup (cache, &low, T0 + 59, FALSE, out, &out_len), ==, DDR_DNS_CACHE_HIT);
  assert_all_ttls (out, out_len, 0);
  g_assert_cmpint (probe (cache, &low, T0 + 60, FALSE), ==, DDR_DNS_CACHE_MISS);

  /* Cut to max_ttl. */
  high.name = "high.example.com";
  high.answer_ttl = 86400 * 7;
  g_assert_true (insert (cache, &high, T0));
  g_assert_cmpint (probe (cache, &high, T0 + 3599, FALSE), ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpint (probe (cache, &high, T0 + 3600, FALSE), ==, DDR_DNS_CACHE_MISS);

  /* Negative TTLs are clamped the same way. */
  g_assert_true (insert (cache, &neg, T0));
  g_assert_cmpint (probe (cache, &neg, T0 + 59, FALSE), ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpint (probe (cache, &neg, T0 + 60, FALSE), ==, DDR_DNS_CACHE_MISS);
}

static void
test_cache_serve_stale (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (10, 0, 86400);
  const gint64 expiry = T0 + 300;
  guint8 out[DDR_DNS_MAX_MSG];
  gsize out_len;
  Msg q = www;

  g_assert_true (insert (cache, &www, T0));

  /* Fresh answers are HIT even when stale ones are allowed. */
  g_assert_cmpint (probe (cache, &www, T0 + 10, TRUE), ==, DDR_DNS_CACHE_HIT);

  /* Expired: only when asked for, kept until then. */
  g_assert_cmpint (probe (cache, &www, expiry, FALSE), ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 1);
  q.id = 0x4242;
  g_assert_cmpint (lookup (cache, &q, expiry, TRUE, out, &out_len), ==, DDR_DNS_CACHE_STALE);
  assert_all_ttls (out, out_len, DDR_DNS_CACHE_STALE_TTL);
  g_assert_cmpuint (ddr_dns_get16 (out), ==, 0x4242);

  /* Up to MAX_STALE_AGE past expiry, then dropped when met, allowed or not. */
  g_assert_cmpint (probe (cache, &www, expiry + DDR_DNS_CACHE_MAX_STALE_AGE, TRUE),
                   ==, DDR_DNS_CACHE_STALE);
  g_assert_cmpint (probe (cache, &www, expiry + DDR_DNS_CACHE_MAX_STALE_AGE + 1, FALSE),
                   ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 0);

  g_assert_true (insert (cache, &www, T0));
  g_assert_cmpint (probe (cache, &www, expiry + DDR_DNS_CACHE_MAX_STALE_AGE + 1, TRUE),
                   ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpuint (ddr_dns_cache_size (cache), ==, 0);
}

/* The check-domain: never stored, never answered, fresh or stale; other names unaffected. */
static void
test_cache_uncached_name (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (10, 0, 86400);
  Msg check = www, shouty = www, other = www;
  guint8 wire[DDR_DNS_MAX_NAME];
  gsize len;

  check.name = "check.example";
  shouty.name = "CHECK.Example.";
  other.name = "sub.check.example";
  g_assert_true (insert (cache, &check, T0));
  g_assert_true (ddr_dns_name_from_string ("check.example", wire, &len));
  ddr_dns_cache_set_uncached (cache, wire, len);
  /* what was stored before is not served either */
  g_assert_cmpint (probe (cache, &check, T0 + 1, FALSE), ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpint (probe (cache, &check, T0 + 1000, TRUE), ==, DDR_DNS_CACHE_MISS);
  g_assert_false (insert (cache, &shouty, T0));
  g_assert_cmpint (probe (cache, &shouty, T0 + 1, TRUE), ==, DDR_DNS_CACHE_MISS);
  g_assert_true (insert (cache, &other, T0));
  g_assert_cmpint (probe (cache, &other, T0 + 1, FALSE), ==, DDR_DNS_CACHE_HIT);
  ddr_dns_cache_set_uncached (cache, NULL, 0);
  g_assert_true (insert (cache, &check, T0));
  g_assert_cmpint (probe (cache, &check, T0 + 1, FALSE), ==, DDR_DNS_CACHE_HIT);
}

static void
test_cache_small_buffer (void)
{
  g_autoptr(DdrDnsCache) cache = ddr_dns_cache_new (10, 0, 86400);
  g_autoptr(GByteArray) original = NULL;
  Msg r = www;
  DdrDnsInfo qinfo;
  guint8 out[DDR_DNS_MAX_MSG];
  gsize out_len = 99;

  r.response = TRUE;
  original = build (&r);
  g_assert_true (insert (cache, &www, T0));
  parse_query (&www, &qinfo);

  g_assert_cmpint (ddr_dns_cache_lookup (cache, &qinfo, T0, FALSE,
                                         out, original->len - 1, &out_len),
                   ==, DDR_DNS_CACHE_MISS);
  g_assert_cmpuint (out_len, ==, 0);
  g_assert_cmpint (ddr_dns_cache_lookup (cache, &qinfo, T0, FALSE, out, original->len, &out_len),
                   ==, DDR_DNS_CACHE_HIT);
  g_assert_cmpuint (out_len, ==, original->len);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/dns-cache/hit-aged", test_cache_hit_aged);
  g_test_add_func ("/dns-cache/expiry", test_cache_expiry);
  g_test_add_func ("/dns-cache/uncached-name", test_cache_uncached_name);
  g_test_add_func ("/dns-cache/negative-nxdomain", test_cache_negative_nxdomain);
  g_test_add_func ("/dns-cache/nodata", test_cache_nodata);
  g_test_add_func ("/dns-cache/errors-not-cached", test_cache_errors_not_cached);
  g_test_add_func ("/dns-cache/tc-not-cached", test_cache_tc_not_cached);
  g_test_add_func ("/dns-cache/ttl-zero", test_cache_ttl_zero);
  g_test_add_func ("/dns-cache/case-insensitive", test_cache_case_insensitive);
  g_test_add_func ("/dns-cache/do-cd-keys", test_cache_do_cd_keys);
  g_test_add_func ("/dns-cache/lru", test_cache_lru);
  g_test_add_func ("/dns-cache/many", test_cache_many);
  g_test_add_func ("/dns-cache/replace", test_cache_replace);
  g_test_add_func ("/dns-cache/flush", test_cache_flush);
  g_test_add_func ("/dns-cache/set-limits", test_cache_set_limits);
  g_test_add_func ("/dns-cache/disabled", test_cache_disabled);
  g_test_add_func ("/dns-cache/clamps", test_cache_clamps);
  g_test_add_func ("/dns-cache/serve-stale", test_cache_serve_stale);
  g_test_add_func ("/dns-cache/small-buffer", test_cache_small_buffer);

  return g_test_run ();
}
