/* vsctl slice renew and slice usage: a slice's expiry and its byte budget.
 * vsctl_slice_renew and vsctl_slice_usage are the subcommands; the `slice`
 * command at the end dispatches to them until the slice commands' own
 * dispatcher (create, list, status, set, destroy) takes them over. */
#include <time.h>

#include "vs/cleanup.h"
#include "vsctl.h"

static void utc_text(long long when, char *buf, size_t size)
{
        time_t t = (time_t)when;
        struct tm tm;

        if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
                snprintf(buf, size, "@%lld", when);
}

/* "2026-12-10 00:00:00 UTC (in 6d16h)", "expired at ...", "never" */
void vsctl_slice_expiry_text(json_object *slice, char *buf, size_t size)
{
        long long expires = vs_json_int(slice, "expires", 0);
        long long left = vs_json_int(slice, "left", 0);
        char when[40], rest[24];

        if (!expires) {
                snprintf(buf, size, "never");
                return;
        }
        utc_text(expires, when, sizeof(when));
        if (left <= 0) {
                snprintf(buf, size, "expired at %s", when);
                return;
        }
        format_duration(left, rest, sizeof(rest));
        snprintf(buf, size, "%s (in %s)", when, rest);
}

static json_object *slice_of(json_object *reply, vs_error_t *err)
{
        json_object *slice = json_object_object_get(reply, "slice");

        if (!slice || !json_object_is_type(slice, json_type_object))
                vs_error_set(err, EPROTO, "vsd's reply has no slice");
        return slice;
}

static const struct option renew_options[] = {
        { "expires", required_argument, NULL, 'e' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
};

int vsctl_slice_renew(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        const char *expires = NULL;
        json_object *args, *slice;
        char text[80];
        int opt, bad = 0, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", renew_options, &bad)) != -1) {
                if (bad)
                        return bad;
                if (opt == 'e')
                        expires = optarg;
        }
        if ((rc = take_name(ctx, argc, argv, "slice name")) != EXIT_OK)
                return rc;
        if (!expires)
                return usage_error(ctx, "--expires DATE|+DURATION is missing");
        args = json_object_new_object();
        json_object_object_add(args, "slice", json_object_new_string(ctx->name));
        json_object_object_add(args, "expires", json_object_new_string(expires));
        if (call(ctx, VS_CMD_SLICE_RENEW, NULL, args, &reply, NULL, NULL, NULL, &err) < 0 ||
            !(slice = slice_of(reply, &err)))
                return fail(ctx, &err);
        vsctl_slice_expiry_text(slice, text, sizeof(text));
        printf("slice %s expires %s\n", ctx->name, text);
        return EXIT_OK;
}

static void print_usage(json_object *slice)
{
        unsigned long long used = (unsigned long long)vs_json_int(slice, "used", 0);
        unsigned long long budget = (unsigned long long)vs_json_int(slice, "budget", 0);
        long long resets = vs_json_int(slice, "resets", 0);
        char a[16], b[16], when[40], rest[24], text[80];

        vsctl_slice_expiry_text(slice, text, sizeof(text));
        printf("slice      %s\nexpires    %s\n", vs_json_str(slice, "name") ?: "?", text);
        format_size(used, a, sizeof(a));
        format_size(budget, b, sizeof(b));
        if (budget)
                printf("sent       %s of %s (%llu of %llu bytes)\n", a, b, used, budget);
        else
                printf("sent       %s (%llu bytes), no budget\n", a, used);
        if (resets) {
                utc_text(resets, when, sizeof(when));
                format_duration(resets - (long long)time(NULL) > 0 ? resets - (long long)time(NULL)
                                                                   : 0,
                                rest, sizeof(rest));
                printf("resets     %s (in %s)\n", when, rest);
        } else {
                printf("resets     (no window open: it opens at the next byte sent)\n");
        }
        if (vs_json_bool(slice, "throttled"))
                printf("throttled  yes, out to %lld bit/s\n",
                       vs_json_int(slice, "throttle_rate", 0));
        else
                printf("throttled  no\n");
}

int vsctl_slice_usage(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        json_object *args, *slice;
        int as_json, rc;

        if ((rc = json_flag(ctx, argc, argv, &as_json)) != EXIT_OK ||
            (rc = take_name(ctx, argc, argv, "slice name")) != EXIT_OK)
                return rc;
        args = json_object_new_object();
        json_object_object_add(args, "slice", json_object_new_string(ctx->name));
        if (call(ctx, VS_CMD_SLICE_USAGE, NULL, args, &reply, NULL, NULL, NULL, &err) < 0 ||
            !(slice = slice_of(reply, &err)))
                return fail(ctx, &err);
        if (as_json)
                print_json(slice);
        else
                print_usage(slice);
        return EXIT_OK;
}
