/* SPDX-License-Identifier: MIT */
/*
 * Small facts about HTTP that more than one binary needs: the reason
 * phrases gw-proxy writes on the answers it makes itself and gw-capture
 * prints when it shows a stored exchange.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

/* RFC 9110's reason phrase for <status>; "" for one it does not name. */
const char *gw_http_reason(int status);

#endif
