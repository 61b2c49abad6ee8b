/* DNS message editing in place: truncation, synthesised errors, TTL ageing. */

#define G_LOG_DOMAIN "ddr-dns"

#include "ddr-dns-edit-private.h"

#include <string.h>

/* One RR-set being collected while truncating: consecutive records of one
 * section with the same owner (by decompressed value), type and class. */
typedef struct {
  gboolean      open;
  DdrDnsSection section;
  guint16       type, rclass, count;
  gsize         start, end;
  guint8        owner[DDR_DNS_MAX_NAME];
  gsize         owner_len;
} RRSet;

typedef struct {
  gsize    budget;        /* non-OPT bytes allowed */
  gsize    kept_bytes;    /* non-OPT bytes kept so far */
  gsize    cut;           /* end of the kept prefix in the message */
  guint16  kept[3];
  gboolean stopped;       /* a set did not fit: keep nothing after it */
} Truncation;

static void
commit_set (Truncation *t, RRSet *set)
{
  if (set->open && !t->stopped)
    {
      if (t->kept_bytes + (set->end - set->start) <= t->budget)
        {
          t->kept_bytes += set->end - set->start;
          t->kept[set->section] += set->count;
          t->cut = set->end;
        }
      else
        t->stopped = TRUE;
    }
  set->open = FALSE;
}

gsize
ddr_dns_truncate (guint8 *msg, gsize len, gsize max_len)
{
  DdrDnsInfo info;
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;
  RRSet set = { 0, };
  Truncation t = { 0, };
  guint8 owner[DDR_DNS_MAX_NAME];
  gsize owner_len = 0;
  gboolean opt_kept = FALSE;
  gsize opt_len;

  if (len <= max_len)
    return len;
  if (ddr_dns_parse_response (msg, len, &info) != DDR_DNS_OK)
    return 0;
  opt_len = info.has_opt ? info.opt_len : 0;
  if (info.question_end + opt_len > max_len)
    return 0;

  /* The OPT is kept whatever happens, so it is reserved up front. */
  t.budget = max_len - opt_len;
  t.kept_bytes = info.question_end;
  t.cut = info.question_end;

  ddr_dns_record_iter_init (&iter, msg, len);
  while (!t.stopped && ddr_dns_record_iter_next (&iter, &rec))
    {
      gsize pos = rec.start;

      if (rec.type == DDR_DNS_TYPE_OPT)
        {
          commit_set (&t, &set);
          if (!t.stopped)
            {
              opt_kept = TRUE;
              t.cut = rec.end;
            }
          continue;
        }

      ddr_dns_read_name (msg, len, &pos, owner, &owner_len);
      if (set.open && rec.section == set.section && rec.type == set.type &&
          rec.rclass == set.rclass &&
          ddr_dns_name_equal (owner, owner_len, set.owner, set.owner_len))
        {
          set.end = rec.end;
          set.count++;
          continue;
        }

      commit_set (&t, &set);
      set.open = TRUE;
      set.section = rec.section;
      set.type = rec.type;
      set.rclass = rec.rclass;
      set.start = rec.start;
      set.end = rec.end;
      set.count = 1;
      memcpy (set.owner, owner, owner_len);
      set.owner_len = owner_len;
    }
  commit_set (&t, &set);

  /* Kept records form a prefix, so their pointers (always backwards) stay
   * valid; an OPT after the cut moves up to it and nothing follows it. */
  if (info.has_opt && !opt_kept)
    {
      memmove (msg + t.cut, msg + info.opt_offset, opt_len);
      t.cut += opt_len;
    }

  ddr_dns_put16 (msg + 2, ddr_dns_get16 (msg + 2) | DDR_DNS_FLAG_TC);
  ddr_dns_put16 (msg + 6, t.kept[DDR_DNS_SECTION_ANSWER]);
  ddr_dns_put16 (msg + 8, t.kept[DDR_DNS_SECTION_AUTHORITY]);
  ddr_dns_put16 (msg + 10, (guint16) (t.kept[DDR_DNS_SECTION_ADDITIONAL] + (info.has_opt ? 1 : 0)));
  return t.cut;
}

gsize
ddr_dns_synthesize (const guint8 *query, gsize query_len, const DdrDnsInfo *qinfo,
                    DdrDnsRcode rcode, int ede_code, const char *ede_text,
                    guint8 *out, gsize out_cap)
{
  gsize text_len = (ede_code >= 0 && ede_text != NULL) ? strlen (ede_text) : 0;
  gboolean with_question, with_opt, with_ede;
  gsize question_len = 0, need, pos;
  guint16 id, qflags;

  if (qinfo != NULL)
    {
      id = qinfo->id;
      qflags = qinfo->flags;
    }
  else if (query != NULL && query_len >= DDR_DNS_HEADER_LEN)
    {
      id = ddr_dns_get16 (query);
      qflags = ddr_dns_get16 (query + 2);
    }
  else
    {
      id = 0;
      qflags = 0;
    }

  /* The question is copied as sent, so the client sees its own 0x20 case. */
  with_question = qinfo != NULL && query != NULL && qinfo->qdcount == 1 &&
                  qinfo->question_end > DDR_DNS_HEADER_LEN &&
                  qinfo->question_end <= query_len;
  if (with_question)
    question_len = qinfo->question_end - DDR_DNS_HEADER_LEN;
  with_opt = qinfo != NULL && qinfo->has_opt;
  with_ede = with_opt && ede_code >= 0;

  if (text_len > G_MAXUINT16 - 2 - OPTION_HDR - OPT_RR_LEN)
    return 0;
  need = DDR_DNS_HEADER_LEN + question_len +
         (with_opt ? OPT_RR_LEN : 0) + (with_ede ? OPTION_HDR + 2 + text_len : 0);
  if (need > out_cap)
    return 0;

  /* out may be the query buffer itself: the question is moved before the
   * header could matter, and the header is computed from copies. */
  if (with_question)
    memmove (out + DDR_DNS_HEADER_LEN, query + DDR_DNS_HEADER_LEN, question_len);

  ddr_dns_put16 (out, id);
  ddr_dns_put16 (out + 2, (guint16) (DDR_DNS_FLAG_QR | DDR_DNS_FLAG_RA |
                                     (qflags & (0x7800 | DDR_DNS_FLAG_RD | DDR_DNS_FLAG_CD)) |
                                     ((guint) rcode & 0xf)));
  ddr_dns_put16 (out + 4, with_question ? 1 : 0);
  ddr_dns_put16 (out + 6, 0);
  ddr_dns_put16 (out + 8, 0);
  ddr_dns_put16 (out + 10, with_opt ? 1 : 0);
  pos = DDR_DNS_HEADER_LEN + question_len;

  if (with_opt)
    {
      guint32 ttl = ((((guint32) rcode >> 4) & 0xff) << 24) |
                    (qinfo->edns_flags & DDR_DNS_EDNS_DO);

      out[pos] = 0;
      ddr_dns_put16 (out + pos + 1, DDR_DNS_TYPE_OPT);
      ddr_dns_put16 (out + pos + 3, DDR_DNS_DEFAULT_UDP_SIZE);
      ddr_dns_put32 (out + pos + 5, ttl);
      ddr_dns_put16 (out + pos + 9, (guint16) (with_ede ? OPTION_HDR + 2 + text_len : 0));
      pos += OPT_RR_LEN;
      if (with_ede)
        {
          ddr_dns_put16 (out + pos, DDR_DNS_OPT_EDE);
          ddr_dns_put16 (out + pos + 2, (guint16) (2 + text_len));
          ddr_dns_put16 (out + pos + 4, (guint16) ede_code);
          if (text_len > 0)
            memcpy (out + pos + 6, ede_text, text_len);
          pos += OPTION_HDR + 2 + text_len;
        }
    }

  return pos;
}

gsize
ddr_dns_formerr_header (const guint8 *query, gsize len, guint8 *out)
{
  guint16 id, flags;

  if (len < DDR_DNS_HEADER_LEN)
    return 0;
  id = ddr_dns_get16 (query);
  flags = ddr_dns_get16 (query + 2);
  memset (out, 0, DDR_DNS_HEADER_LEN);
  ddr_dns_put16 (out, id);
  ddr_dns_put16 (out + 2, (guint16) (DDR_DNS_FLAG_QR | (flags & 0x7800) | DDR_DNS_RCODE_FORMERR));
  return DDR_DNS_HEADER_LEN;
}

static void
rewrite_ttls (guint8 *msg, gsize len, gboolean age, guint32 value)
{
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;

  if (ddr_dns_record_iter_init (&iter, msg, len) != DDR_DNS_OK)
    return;
  while (ddr_dns_record_iter_next (&iter, &rec))
    {
      guint32 ttl;

      /* The OPT "TTL" holds extended RCODE, version and the DO bit. */
      if (rec.type == DDR_DNS_TYPE_OPT)
        continue;
      if (age)
        {
          ttl = (rec.ttl & 0x80000000u) ? 0 : rec.ttl;
          ttl = ttl > value ? ttl - value : 0;
        }
      else
        ttl = value;
      ddr_dns_put32 (msg + rec.rdata - 6, ttl);
    }
}

void
ddr_dns_age_ttls (guint8 *msg, gsize len, guint32 seconds)
{
  rewrite_ttls (msg, len, TRUE, seconds);
}

void
ddr_dns_set_ttls (guint8 *msg, gsize len, guint32 ttl)
{
  rewrite_ttls (msg, len, FALSE, ttl);
}
