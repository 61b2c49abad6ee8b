/* Private to DNS message editing: wire sizes shared by ddr-dns-edit.c and ddr-dns-edns.c. */
#pragma once

#include "ddr-dns-edit.h"

#define OPT_RR_LEN 11   /* root owner, type, class, TTL, RDLENGTH */
#define OPTION_HDR 4    /* option code, option length */
