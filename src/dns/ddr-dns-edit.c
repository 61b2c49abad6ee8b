/* DNS message editing in place: truncation, synthesised errors, TTL ageing, EDNS padding. */

#define G_LOG_DOMAIN "ddr-dns"

#include "ddr-dns-edit.h"

#include <string.h>

#define OPT_RR_LEN 11   /* root owner, type, class, TTL, RDLENGTH */
#define OPTION_HDR 4    /* option code, option length */

/* Find the OPT record; FALSE if there is none or the walk fails before it. */
static gboolean
find_opt (const guint8 *msg, gsize len, DdrDnsRecord *opt)
{
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;

  if (ddr_dns_record_iter_init (&iter, msg, len) != DDR_DNS_OK)
    return FALSE;
  while (ddr_dns_record_iter_next (&iter, &rec))
    if (rec.type == DDR_DNS_TYPE_OPT)
      {
        /* Editors rely on the literal root owner the parser insists on. */
        if (msg[rec.start] != 0 || rec.rdata != rec.start + OPT_RR_LEN)
          return FALSE;
        *opt = rec;
        return TRUE;
      }
  return FALSE;
}

static void
add16 (guint8 *p, int delta)
{
  ddr_dns_put16 (p, (guint16) (ddr_dns_get16 (p) + delta));
}

/* Splicing inside or out of the OPT record moves every byte after it. Records
 * may follow the OPT and compress against each other, so their pointers that
 * land after the splice must move too. Only the pointer ending each name in
 * place is rewritten; the rest of any chain lives in names walked too, or
 * wholly before the splice. A dry run first checks every moving pointer lands
 * on a name position we walk (so its own chain gets fixed), marking those
 * positions in a bitmap: pointers only reach the first 16 KiB, so 2 KiB of
 * marks covers them all. */
typedef struct {
  gsize   at;          /* where the splice starts */
  gsize   removed;     /* bytes taken out at `at` */
  gsize   inserted;    /* bytes of room put in at `at` */
  gsize   rdlength;    /* the OPT RDLENGTH the caller rewrites after; 0 if none */
  gboolean apply;      /* FALSE: dry run, check and mark only */
  guint8  marks[0x4000 / 8];
} Splice;

static void
mark (Splice *sp, gsize pos)
{
  if (pos < 0x4000)
    sp->marks[pos / 8] |= (guint8) (1u << (pos % 8));
}

static gboolean
marked (const Splice *sp, gsize pos)
{
  return pos < 0x4000 && (sp->marks[pos / 8] & (1u << (pos % 8)));
}

static gboolean
overlaps_rdlength (const Splice *sp, gsize p, gsize n)
{
  return sp->rdlength != 0 && p < sp->rdlength + 2 && sp->rdlength < p + n;
}

/* A pointer to before the splice is left alone, so every byte its name reads
 * must keep both its place and its value: the whole chain, not only the first
 * run, since a later hop can land on bytes that change too. Those are the ones
 * at or past the splice and the OPT RDLENGTH the caller rewrites; a name
 * aliased onto the RDLENGTH (a root label on its low byte, say) would
 * otherwise turn into garbage once it holds the new length. */
static gboolean
chain_stays_put (const guint8 *msg, gsize p, const Splice *sp)
{
  gsize bound = sp->at;
  guint hops = 0;

  for (;;)
    {
      guint8 c;

      if (p < DDR_DNS_HEADER_LEN || p >= bound)
        return FALSE;
      c = msg[p];
      if ((c & 0xc0) == 0xc0)
        {
          gsize target;

          if (p + 1 >= bound || overlaps_rdlength (sp, p, 2))
            return FALSE;
          target = ((gsize) (c & 0x3f) << 8) | msg[p + 1];
          /* Strictly backwards, as ddr_dns_read_name insists, so this ends. */
          if (target >= p || ++hops > 128)
            return FALSE;
          bound = p;
          p = target;
          continue;
        }
      if ((c & 0xc0) || overlaps_rdlength (sp, p, 1 + (gsize) c))
        return FALSE;
      if (c == 0)
        return TRUE;
      p += 1 + (gsize) c;
    }
}

static gboolean
fix_name (guint8 *msg, gsize limit, gsize *pos, Splice *sp)
{
  gsize p = *pos;

  for (;;)
    {
      guint8 c;

      if (p >= limit)
        return FALSE;
      c = msg[p];
      mark (sp, p);
      if ((c & 0xc0) == 0xc0)
        {
          gsize target;

          if (p + 1 >= limit)
            return FALSE;
          target = ((gsize) (c & 0x3f) << 8) | msg[p + 1];
          if (target < sp->at)
            {
              if (!sp->apply && !chain_stays_put (msg, target, sp))
                return FALSE;
            }
          else
            {
              if (!sp->apply && (target < sp->at + sp->removed || !marked (sp, target)))
                return FALSE;
              target = target - sp->removed + sp->inserted;
              if (target > 0x3fff)
                return FALSE;
              if (sp->apply)
                ddr_dns_put16 (msg + p, (guint16) (0xc000 | target));
            }
          *pos = p + 2;
          return TRUE;
        }
      if (c & 0xc0)
        return FALSE;
      if (c == 0)
        {
          *pos = p + 1;
          return TRUE;
        }
      p += 1 + (gsize) c;
    }
}

/* How many names lead the rdata of types that RFC 1035 and friends allow to
 * compress, and how many fixed bytes come before the first. */
static guint
rdata_names (guint16 type, gsize *skip)
{
  *skip = 0;
  switch (type)
    {
    case 2: case 3: case 4: case 5: case 7: case 8: case 9: case 12: case 39:
      return 1;
    case 6: case 14: case 17:
      return 2;
    case 15: case 18: case 21: case 36:
      *skip = 2;
      return 1;
    case 33:
      *skip = 6;
      return 1;
    default:
      return 0;
    }
}

static gboolean
fix_tail (guint8 *msg, gsize len, gsize tail, Splice *sp)
{
  gsize p = tail;

  /* Walk in place, never through pointers: during the apply pass earlier
   * pointers already hold their future values. */
  while (p < len)
    {
      gsize rdata, end, skip;
      guint names;

      if (!fix_name (msg, len, &p, sp))
        return FALSE;
      if (len - p < 10)
        return FALSE;
      rdata = p + 10;
      end = rdata + ddr_dns_get16 (msg + p + 8);
      if (end > len)
        return FALSE;
      names = rdata_names (ddr_dns_get16 (msg + p), &skip);
      p = rdata + skip;
      for (guint i = 0; i < names && p < end; i++)
        if (!fix_name (msg, end, &p, sp))
          return FALSE;
      p = end;
    }
  return TRUE;
}

/* Replace msg[at, at + removed) with `inserted` bytes of room, tail shifted,
 * pointers in the records from `tail` on fixed. rdlength is where the caller
 * will rewrite the OPT RDLENGTH (0 if it will not). All or nothing. */
static gboolean
splice (guint8 *msg, gsize len, gsize cap, gsize tail, gsize at,
        gsize removed, gsize inserted, gsize rdlength)
{
  if (at + removed > len || tail > len || len - removed + inserted > cap ||
      len - removed + inserted > DDR_DNS_MAX_MSG)
    return FALSE;
  if (tail < len)
    {
      Splice sp = { .at = at, .removed = removed, .inserted = inserted,
                    .rdlength = rdlength, .apply = FALSE };

      if (!fix_tail (msg, len, tail, &sp))
        return FALSE;
      sp.apply = TRUE;
      fix_tail (msg, len, tail, &sp);
    }
  memmove (msg + at + inserted, msg + at + removed, len - at - removed);
  return TRUE;
}

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

gsize
ddr_dns_strip_opt (guint8 *msg, gsize len)
{
  DdrDnsRecord opt;

  if (!find_opt (msg, len, &opt))
    return len;
  if (!splice (msg, len, len, opt.end, opt.start, opt.end - opt.start, 0, 0))
    return len;
  add16 (msg + 10, -1);
  return len - (opt.end - opt.start);
}

gsize
ddr_dns_strip_option (guint8 *msg, gsize len, guint16 code)
{
  DdrDnsRecord opt;
  gsize o, end;

  if (!find_opt (msg, len, &opt))
    return len;

  o = opt.rdata;
  end = opt.end;
  while (end - o >= OPTION_HDR)
    {
      gsize olen = OPTION_HDR + ddr_dns_get16 (msg + o + 2);

      if (olen > end - o)
        break;
      if (ddr_dns_get16 (msg + o) == code)
        {
          if (!splice (msg, len, len, end, o, olen, 0, opt.rdata - 2))
            break;
          len -= olen;
          end -= olen;
          continue;
        }
      o += olen;
    }
  ddr_dns_put16 (msg + opt.rdata - 2, (guint16) (end - opt.rdata));
  return len;
}

static gsize
pad_in_place (guint8 *msg, gsize len, gsize cap, gsize block, DdrDnsInfo *info)
{
  DdrDnsRecord opt;
  gsize pad, need;

  /* The client's padding was sized for its own transport, not ours. */
  if (info->has_padding)
    {
      len = ddr_dns_strip_option (msg, len, DDR_DNS_OPT_PADDING);
      if (ddr_dns_parse_query (msg, len, info) != DDR_DNS_OK || info->has_padding)
        return 0;
    }

  if (!find_opt (msg, len, &opt))
    {
      if (info->has_opt || cap < len + OPT_RR_LEN || len + OPT_RR_LEN > DDR_DNS_MAX_MSG)
        return 0;
      /* Additional is the last section, so appending keeps the order valid. */
      msg[len] = 0;
      ddr_dns_put16 (msg + len + 1, DDR_DNS_TYPE_OPT);
      ddr_dns_put16 (msg + len + 3, DDR_DNS_DEFAULT_UDP_SIZE);
      ddr_dns_put32 (msg + len + 5, 0);
      ddr_dns_put16 (msg + len + 9, 0);
      add16 (msg + 10, 1);
      len += OPT_RR_LEN;
      if (!find_opt (msg, len, &opt))
        return 0;
    }

  if (block == 0)
    return len;

  /* The option header counts towards the total that must reach the block. */
  pad = (block - (len + OPTION_HDR) % block) % block;
  need = OPTION_HDR + pad;
  if ((gsize) opt.rdlength + need > G_MAXUINT16)
    return 0;
  if (!splice (msg, len, cap, opt.end, opt.end, 0, need, opt.rdata - 2))
    return 0;

  ddr_dns_put16 (msg + opt.end, DDR_DNS_OPT_PADDING);
  ddr_dns_put16 (msg + opt.end + 2, (guint16) pad);
  memset (msg + opt.end + OPTION_HDR, 0, pad);   /* RFC 7830 §4: zeros */
  ddr_dns_put16 (msg + opt.rdata - 2, (guint16) (opt.rdlength + need));
  return len + need;
}

gsize
ddr_dns_pad_query (guint8 *msg, gsize len, gsize cap, gsize block)
{
  DdrDnsInfo info;
  g_autofree guint8 *orig = NULL;
  gsize n;

  if (ddr_dns_parse_query (msg, len, &info) != DDR_DNS_OK)
    return 0;

  /* Stripping the client's padding or adding an OPT may already have changed
   * the buffer when a later step refuses; a caller that falls back to sending
   * the query unpadded needs the bytes it had. */
  orig = g_memdup2 (msg, len);
  n = pad_in_place (msg, len, cap, block, &info);
  if (n == 0)
    memcpy (msg, orig, len);
  return n;
}
