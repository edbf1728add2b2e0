# shellcheck shell=bash
# Host users for the tests of slice owners (test_owners, test_slice):
# source it after lib.sh with USERS (the user names) and MARK (the passwd
# comment that says a user is this file's) set. The users are made once
# for the file and removed at its end even when a test fails; a user of
# that name that is not ours (another comment) is never touched.

add_user() {
        if id "$1" >/dev/null 2>&1; then
                [ "$(getent passwd "$1" | cut -d: -f5)" = "$MARK" ] ||
                        die "user $1 exists and is not this test's"
                return 0
        fi
        useradd --system --no-create-home --shell /usr/sbin/nologin --comment "$MARK" "$1" ||
                die "useradd $1"
}

del_users() {
        local u rc=0
        for u in $USERS; do
                if id "$u" >/dev/null 2>&1 &&
                        [ "$(getent passwd "$u" | cut -d: -f5)" = "$MARK" ]; then
                        userdel "$u" || rc=1
                fi
        done
        return $rc
}

suite_setup() {
        local u
        [ -z "$R" ] || return 0
        for u in $USERS; do add_user "$u"; done
        setup
        # the owners reach the socket: the test root is mktemp's 0700
        chmod 755 "$R" "$R/run" "$R/run/paene"
}

suite_teardown() {
        local rc=0
        teardown || rc=1
        del_users || rc=1
        return $rc
}

uid_of() { id -u "$1"; }

# as USER vsctl ARGS...: vsctl run by that user (no groups)
as() {
        local u=$1
        shift
        setpriv --reuid="$(uid_of "$u")" --regid="$(id -g "$u")" --clear-groups \
                "$BIN/vsctl" --root "$R" "$@"
}
