/* Port-forward specs ("8080:80/tcp") as vsctl takes them and a VPS's config
 * keeps them: the kernel-free half of port forwarding, for unit tests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs/parse.h"
#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/netns.h"

const char *vs_l4_name(uint8_t proto)
{
        return proto == VS_L4_UDP ? "udp" : "tcp";
}

static int parse_port(const char *text, size_t len, uint16_t *out)
{
        uint64_t value = 0;

        if (vs_scan_uint(text, 65535, &value) != text + len || len == 0 || value < 1)
                return -1;
        *out = (uint16_t)value;
        return 0;
}

static int parse_proto(const char *text, uint8_t *out)
{
        if (strcmp(text, "tcp") == 0)
                *out = VS_L4_TCP;
        else if (strcmp(text, "udp") == 0)
                *out = VS_L4_UDP;
        else
                return -1;
        return 0;
}

int vs_portfwd_parse(const char *text, vs_portfwd_t *out, vs_error_t *err)
{
        const char *colon, *slash;

        if (!text)
                text = "";
        colon = strchr(text, ':');
        slash = strchr(text, '/');
        out->proto = VS_L4_TCP;
        if (!colon || (slash && slash < colon))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "port forward '%s' is not HOSTPORT:VPSPORT[/tcp|udp]", text);
        if (slash && parse_proto(slash + 1, &out->proto) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "port forward '%s': protocol '%s' is not tcp or udp", text,
                                     slash + 1);
        if (parse_port(text, (size_t)(colon - text), &out->host_port) < 0 ||
            parse_port(colon + 1, slash ? (size_t)(slash - colon - 1) : strlen(colon + 1),
                       &out->vps_port) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "port forward '%s': a port is not a number from 1 to 65535",
                                     text);
        return 0;
}

void vs_portfwd_format(const vs_portfwd_t *f, char *buf, size_t size)
{
        snprintf(buf, size, "%u:%u/%s", f->host_port, f->vps_port, vs_l4_name(f->proto));
}

int vs_portfwd_parse_del(const char *text, vs_portfwd_t *out, vs_error_t *err)
{
        const char *slash;

        if (!text)
                text = "";
        memset(out, 0, sizeof(*out));
        if (strcmp(text, "all") == 0)
                return 0;
        slash = strchr(text, '/');
        if (slash && parse_proto(slash + 1, &out->proto) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "port forward removal '%s': protocol '%s' is not tcp or udp",
                                     text, slash + 1);
        if (parse_port(text, slash ? (size_t)(slash - text) : strlen(text), &out->host_port) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "port forward removal '%s' is not HOSTPORT[/tcp|udp] or all",
                                     text);
        return 0;
}

int vs_portfwd_matches_del(const vs_portfwd_t *f, const vs_portfwd_t *del)
{
        if (del->host_port == 0)
                return 1;
        return f->host_port == del->host_port && (del->proto == 0 || f->proto == del->proto);
}

int vs_portfwd_parse_list(const char *text, vs_portfwd_t *out, size_t max, size_t *n,
                          vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(text ? text : "");
        char *save = NULL;

        *n = 0;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (*n == max)
                        return vs_error_kind(err, VS_E_USAGE, E2BIG, "more than %zu port forwards",
                                             max);
                if (vs_portfwd_parse(w, &out[*n], err) < 0)
                        return -1;
                for (size_t i = 0; i < *n; i++)
                        if (out[i].host_port == out[*n].host_port && out[i].proto == out[*n].proto)
                                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                                     "host port %u/%s is forwarded twice",
                                                     out[i].host_port, vs_l4_name(out[i].proto));
                (*n)++;
        }
        return 0;
}

char *vs_portfwd_format_list(const vs_portfwd_t *f, size_t n)
{
        char *text = vs_xmalloc(n * VS_PORTFWD_TEXT + 1);
        size_t len = 0;

        text[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                char buf[VS_PORTFWD_TEXT];

                vs_portfwd_format(&f[i], buf, sizeof(buf));
                len += (size_t)snprintf(text + len, VS_PORTFWD_TEXT + 1, "%s%s", i ? " " : "", buf);
        }
        return text;
}
