/* Judges a captive-portal probe's HTTP/1.x response. Pure code: bytes in, verdict out. */
#pragma once

#include "ddr-portal-probe.h"

G_BEGIN_DECLS

/* Headers and body together; a portal page is small, and nothing past the first bytes
 * of a body changes the verdict. */
#define DDR_PORTAL_MAX_RESPONSE (64 * 1024)

/* Looks at the response's first len bytes of url's GET; eof: the server closed the
 * connection after them; len >= DDR_PORTAL_MAX_RESPONSE: no more will be read.
 * FALSE when more bytes are needed. Else TRUE with result, portal_url (a redirect's
 * Location made absolute against url, or NULL) and detail (one sentence). */
gboolean ddr_portal_judge_response (const char       *url,
                                    const guint8     *buf,
                                    gsize             len,
                                    gboolean          eof,
                                    DdrPortalResult  *result,
                                    char            **portal_url,
                                    char            **detail);

G_END_DECLS
