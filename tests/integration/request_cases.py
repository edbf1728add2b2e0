#!/usr/bin/env python3
"""Hand-written bad requests for every command vsd knows, and what must
follow: a one-line error of kind usage naming the field, and nothing changed.

    request_cases.py ROOT SCHEMA GROUP

ROOT is the test's vsd root, SCHEMA the request table as vsd's protocol
layer describes it (build/tests/schema-dump), GROUP one of the groups below.
The cases are generated from SCHEMA (its fields, types, limits and required
flags); SCHEMA itself is checked against the table written out here
(EXPECTED), so that a field dropped from the daemon's table, or given a
looser type, fails this test instead of silently going untested.

The fixture (made by test_requests.sh): VPS run1 and run2 running, off1
stopped, template bb2 unused, ROOT/imp.tar a small archive. Every base
request below is valid and would change something (create, destroy, stop,
build, remove, ...), so a field the daemon ignores instead of refusing shows
up as a change.
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsreq  # noqa: E402

# Every command and every field of its args, with the JSON type vsd must
# insist on. "strings" is an array of strings, "limits" an object of strings
# keyed by limit names.
EXPECTED = {
    "ping": {},
    "create": {
        "template": "string",
        "slice": "string",
        "hostname": "string",
        "privileged": "bool",
        "procview": "string",
        "limits": "limits",
        "force": "bool",
        "onboot": "bool",
        "bootorder": "int",
        "diskspace": "string",
        "diskinodes": "string",
        "rate_out": "string",
        "rate_in": "string",
        "ipadd": "strings",
        "nameserver": "strings",
        "searchdomain": "strings",
        "port_forward": "strings",
    },
    "start": {},
    "stop": {"timeout_ms": "int", "fast": "bool"},
    "restart": {"timeout_ms": "int", "fast": "bool"},
    "destroy": {"force": "bool"},
    "status": {},
    "set": {
        "limits": "limits",
        "hostname": "string",
        "force": "bool",
        "onboot": "bool",
        "bootorder": "int",
        "capability": "string",
        "no_save": "bool",
        "rate_out": "string",
        "rate_in": "string",
        "ipadd": "strings",
        "ipdel": "strings",
        "nameserver": "strings",
        "searchdomain": "strings",
        "port_forward": "strings",
        "port_forward_del": "strings",
    },
    "node": {"limits": "limits"},
    "resize": {"diskspace": "string", "diskinodes": "string"},
    "clone": {"new": "string", "hostname": "string"},
    "list": {"disk": "bool", "slice": "string", "fields": "strings"},
    "exec": {
        "argv": "strings",
        "tty": "bool",
        "rows": "int",
        "cols": "int",
        "term": "string",
    },
    "logs": {},
    "console": {},
    "beancounters": {},
    "template-build": {
        "builder": "string",
        "suite": "string",
        "include": "string",
        "debs": "string",
        "variant": "string",
        "mirror": "string",
        "http_proxy": "string",
    },
    "template-import": {"file": "string"},
    "template-list": {},
    "template-unify": {},
    "template-remove": {},
    "metrics": {},
    "events": {},
    "backup": {},
    "restore": {"file": "string", "new": "string", "keep_ip": "bool"},
    "snapshot": {"snap": "string"},
    "snapshot-list": {},
    "snapshot-restore": {"snap": "string"},
    "snapshot-delete": {"snap": "string"},
    "slice-renew": {"slice": "string", "expires": "string"},
    "slice-usage": {"slice": "string"},
    "migrate-send": {"step": "string"},
    "migrate-begin": {"config": "string", "new_ip": "bool"},
    "migrate-recv": {},
    "migrate-finish": {"config": "string", "new_ip": "bool", "start": "bool", "from": "string"},
    "slice-create": {
        "owners": "strings",
        "limits": "limits",
        "diskspace": "string",
        "rate_out": "string",
        "rate_in": "string",
        "bytes_per_day": "string",
        "max_vps": "int",
        "expires": "string",
        "templates": "string",
    },
    "slice-set": {
        "owners": "strings",
        "limits": "limits",
        "diskspace": "string",
        "rate_out": "string",
        "rate_in": "string",
        "bytes_per_day": "string",
        "max_vps": "int",
        "expires": "string",
        "templates": "string",
    },
    "slice-destroy": {},
    "slice-list": {},
    "slice-status": {},
    "slice-loan": {"to": "string", "limits": "limits", "rate_out": "string", "until": "string"},
    "slice-loans": {},
    "slice-revoke": {"id": "int"},
}

# What the top-level "name" must be: a VPS name, a template name, either
# that or absent (template-build), or absent.
EXPECTED_NAME = {
    "ping": "none",
    "create": "vps",
    "start": "vps",
    "stop": "vps",
    "restart": "vps",
    "destroy": "vps",
    "status": "vps",
    "set": "vps",
    "node": "none",
    "resize": "vps",
    "clone": "vps",
    "list": "none",
    "exec": "vps",
    "logs": "vps",
    "console": "vps",
    "beancounters": "vps",
    "template-build": "template-optional",
    "template-import": "template",
    "template-list": "none",
    "template-unify": "none",
    "template-remove": "template",
    "metrics": "none",
    "events": "none",
    "backup": "vps",
    "restore": "none",
    "snapshot": "vps",
    "snapshot-list": "vps",
    "snapshot-restore": "vps",
    "snapshot-delete": "vps",
    "slice-renew": "none",
    "slice-usage": "none",
    "migrate-send": "vps",
    "migrate-begin": "vps",
    "migrate-recv": "vps",
    "migrate-finish": "vps",
    "slice-create": "slice",
    "slice-set": "slice",
    "slice-destroy": "slice",
    "slice-list": "none",
    "slice-status": "slice",
    "slice-loan": "slice",
    "slice-loans": "none",
    "slice-revoke": "none",
}

# Fields whose contents are names, under the rule of DESIGN.md section 3.
NAME_FIELDS = {
    ("create", "template"),
    ("create", "slice"),
    ("list", "slice"),
    ("slice-loan", "to"),
    ("clone", "new"),
    ("restore", "new"),
    ("snapshot", "snap"),
    ("snapshot-restore", "snap"),
    ("snapshot-delete", "snap"),
    ("slice-renew", "slice"),
    ("slice-usage", "slice"),
}


def base(cmd, root):
    """A valid request of each command that would change something."""
    tar = os.path.join(root, "imp.tar")
    return {
        "ping": (None, {}),
        "create": ("new1", {"template": "busybox"}),
        "start": ("off1", {}),
        "stop": ("run1", {}),
        "restart": ("run1", {}),
        "destroy": ("run2", {"force": True}),
        "status": ("run1", {}),
        "set": ("run1", {"limits": {"cpulimit": "50%"}}),
        "node": (None, {}),
        "resize": ("off1", {"diskspace": "100M"}),
        "clone": ("off1", {"new": "new2"}),
        "list": (None, {}),
        "exec": ("run1", {"argv": ["true"]}),
        "logs": ("run1", {}),
        "console": ("run1", {}),
        "beancounters": ("run1", {}),
        "template-build": ("bb3", {"builder": "busybox"}),
        "template-import": ("imp1", {"file": tar}),
        "template-list": (None, {}),
        "metrics": (None, {}),
        "events": (None, {}),
        "backup": ("off1", {}),
        "restore": (None, {"file": "/nonexistent/backup.tar.zst"}),
        "snapshot": ("off1", {"snap": "s1"}),
        "snapshot-list": ("off1", {}),
        "snapshot-restore": ("off1", {"snap": "s1"}),
        "snapshot-delete": ("off1", {"snap": "s1"}),
        "template-unify": (None, {}),
        "template-remove": ("bb2", {}),
        "slice-renew": (None, {"slice": "sl1", "expires": "+30d"}),
        "slice-usage": (None, {"slice": "sl1"}),
        "migrate-send": ("run1", {"step": "first"}),
        "migrate-begin": ("new3", {"config": "name = new3\ntemplate = busybox\n"}),
        "migrate-recv": ("new3", {}),
        "migrate-finish": ("new3", {"config": "name = new3\ntemplate = busybox\n", "start": True}),
        "slice-create": ("sx", {"owners": ["root"]}),
        "slice-set": ("sy", {"max_vps": 5}),
        "slice-destroy": ("sy", {}),
        "slice-list": (None, {}),
        "slice-status": ("sy", {}),
        "slice-loan": ("sy", {"to": "sx", "limits": {"cpuunits": "100"}}),
        "slice-loans": (None, {}),
        "slice-revoke": (None, {"id": 1}),
    }[cmd]


# A valid value of each field (by key), into which the bad ones are put.
SAMPLES = {
    "template": "busybox",
    "slice": "default",
    "hostname": "h1.example",
    "privileged": False,
    "procview": "off",
    "limits": {"cpulimit": "50%"},
    "diskspace": "100M",
    "diskinodes": "10000",
    "rate_out": "10M",
    "rate_in": "10M",
    "ipadd": ["10.77.0.9"],
    "ipdel": ["all"],
    "nameserver": ["10.0.0.1"],
    "searchdomain": ["example.com"],
    "port_forward": ["8080:80"],
    "port_forward_del": ["8080"],
    "capability": "net_admin:on",
    "no_save": False,
    "timeout_ms": 1000,
    "fast": False,
    "force": True,
    "onboot": False,
    "keep_ip": False,
    "bootorder": 5,
    "disk": False,
    "fields": ["name"],
    "new": "new2",
    "snap": "s1",
    "argv": ["true"],
    "tty": False,
    "rows": 24,
    "cols": 80,
    "term": "xterm",
    "builder": "busybox",
    "suite": "bookworm",
    "include": "less",
    "debs": "/nonexistent/debs.tar",
    "variant": "minbase",
    "mirror": "http://127.0.0.1:9/debian",
    "http_proxy": "http://127.0.0.1:9",
    "file": "/nonexistent/imp.tar",
    "expires": "+30d",
    "step": "first",
    "config": "name = new3\ntemplate = busybox\n",
    "new_ip": False,
    "start": False,
    "from": "node1",
    "owners": ["root"],
    "bytes_per_day": "5M",
    "max_vps": 5,
    "expires": "+1d",
    "templates": "busybox",
    "to": "sx",
    "until": "+1d",
    "id": 1,
}

# Values of every JSON type; a field gets all those not of its own type.
# The strings are the ones a coercing reader takes for true or false.
BY_TYPE = {
    "string": ["no", "false", "0", "true", "1", ""],
    "int": [0, 1, -1],
    "bool": [True, False],
    "null": [None],
    "array": [[], ["x"], [True]],
    "object": [{}, {"a": 1}],
    "double": [1.5, 1.0, 0.0],
}
JSON_TYPE_OF_FIELD = {
    "string": "string",
    "bool": "bool",
    "int": "int",
    "strings": "array",
    "limits": "object",
}

BAD_NAMES = ["../x", "A", "a" * 64, "", "-x", "_x", "a b", "a/b", ".", "x\ty", "caf\u00e9"]


def wrong_values(json_type):
    for kind, values in BY_TYPE.items():
        if kind != json_type:
            for v in values:
                yield kind, v


class Checker:
    def __init__(self, root):
        self.root = root
        self.sock = os.path.join(root, "run/paene/vsd.sock")
        self.failures = []
        self.count = 0
        self.before = self.snapshot()
        self.check_fixture(self.before)

    def snapshot(self):
        """What a refused request must leave as it was: the VPS and
        template directories, every VPS's config and state, byte for byte,
        and whether each running VPS's init is alive."""
        lib = os.path.join(self.root, "var/lib/paene")
        snap = {}
        for sub in ("vps", "templates", "slices"):
            d = os.path.join(lib, sub)
            snap[sub] = sorted(os.listdir(d)) if os.path.isdir(d) else []
        for name in snap["vps"]:
            for f in ("config", "state"):
                p = os.path.join(lib, "vps", name, f)
                try:
                    with open(p, "rb") as fh:
                        snap[f"{name}/{f}"] = fh.read()
                except FileNotFoundError:
                    snap[f"{name}/{f}"] = None
        for name in snap["slices"]:
            with open(os.path.join(lib, "slices", name), "rb") as fh:
                snap[f"slice {name}"] = fh.read()
        for name in snap["vps"]:
            pid = self.pid_of(snap.get(f"{name}/state"))
            snap[f"{name}/alive"] = pid is not None and os.path.exists(f"/proc/{pid}")
        return snap

    @staticmethod
    def pid_of(state):
        for line in (state or b"").decode(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "pid" and value.strip().isdigit() and int(value) > 0:
                return int(value)
        return None

    def check_fixture(self, snap):
        for name in ("run1", "run2"):
            if not snap.get(f"{name}/alive"):
                sys.exit(f"fixture: {name} is not running")
        if "off1" not in snap["vps"] or "bb2" not in snap["templates"]:
            sys.exit("fixture: off1 or bb2 is missing")

    def no_privileged(self):
        for name in self.before["vps"]:
            config = self.before.get(f"{name}/config") or b""
            for line in config.decode(errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "privileged" and value.strip() != "no":
                    return name
        return None

    def refused(self, what, request, field, kind="usage"):
        """Sends the request; it must be refused naming `field`, and
        nothing may change."""
        self.count += 1
        try:
            reply = vsreq.request(self.sock, request)
        except OSError as e:
            self.fail(what, request, f"no reply: {e}")
            return
        problem = self.judge(reply, field, kind)
        after = self.snapshot()
        changed = [k for k in set(after) | set(self.before) if after.get(k) != self.before.get(k)]
        if changed:
            problem = (problem + "; " if problem else "") + "changed: " + ", ".join(sorted(changed))
            self.before = after
        if problem:
            self.fail(what, request, problem)

    @staticmethod
    def judge(reply, field, kind):
        if reply is None:
            return "vsd closed the connection without a reply"
        if reply.get("ok") is not False:
            return f"accepted: {json.dumps(reply)[:300]}"
        error = reply.get("error")
        if not isinstance(error, str):
            return f"no error message: {reply}"
        if reply.get("kind") != kind:
            return f"kind {reply.get('kind')!r}, not {kind!r}: {error}"
        if "\n" in error:
            return f"more than one line: {error!r}"
        if field is not None and f"'{field}'" not in error:
            return f"message does not name '{field}': {error}"
        return None

    def fail(self, what, request, problem):
        text = vsreq.encode(request).decode(errors="replace")
        if len(text) > 300:
            text = text[:300] + "..."
        self.failures.append(f"{what}: {problem}\n        request: {text}")

    def finish(self, group):
        who = self.no_privileged()
        if who:
            self.failures.append(f"{who} is privileged")
        if self.count == 0:
            self.failures.append(f"group {group} sent no request")
        for f in self.failures[:40]:
            print("    FAIL:", f)
        if len(self.failures) > 40:
            print(f"    ... and {len(self.failures) - 40} more")
        print(f"    {group}: {self.count} requests, {len(self.failures)} failures")
        return 1 if self.failures else 0


def load_schema(path):
    with open(path) as f:
        schema = json.load(f)
    commands = {c["cmd"]: c for c in schema["commands"]}
    return commands


def check_schema(commands, ck):
    """The daemon's table is the one written out above: every command,
    every field, every type, every name rule."""
    ck.count += 1
    if sorted(commands) != sorted(EXPECTED):
        ck.failures.append(
            f"commands differ: schema {sorted(commands)}, expected {sorted(EXPECTED)}"
        )
    for cmd, spec in commands.items():
        fields = {a["key"]: a["type"] for a in spec["args"]}
        if cmd in EXPECTED and fields != EXPECTED[cmd]:
            ck.failures.append(f"{cmd}: fields {fields}, expected {EXPECTED[cmd]}")
        if cmd in EXPECTED_NAME and spec["name"] != EXPECTED_NAME[cmd]:
            ck.failures.append(f"{cmd}: name rule {spec['name']}, expected {EXPECTED_NAME[cmd]}")
        for a in spec["args"]:
            if a["key"] not in SAMPLES:
                ck.failures.append(f"{cmd}: no sample value for '{a['key']}' in this test")
            if a["type"] in ("string", "strings", "limits") and not a.get("max_len"):
                ck.failures.append(f"{cmd}.{a['key']}: no length limit")
            if a["type"] == "strings" and not a.get("max_items"):
                ck.failures.append(f"{cmd}.{a['key']}: no item limit")
            if a["type"] == "int" and ("min" not in a or "max" not in a):
                ck.failures.append(f"{cmd}.{a['key']}: no range")
    for cmd, key in NAME_FIELDS:
        checks = {a["key"]: a.get("check") for a in commands.get(cmd, {}).get("args", [])}
        if checks.get(key) not in ("VPS name", "template name", "slice name", "snapshot name"):
            ck.failures.append(f"{cmd}.{key}: checked as {checks.get(key)!r}, not as a name")


def request_of(command, root, name=..., args=None, **top):
    """The base request of the command, with args merged over its own args
    (... removes one), and top-level members set the same way."""
    base_name, base_args = base(command, root)
    merged = dict(base_args)
    for k, v in (args or {}).items():
        if v is ...:
            merged.pop(k, None)
        else:
            merged[k] = v
    req = vsreq.make(command, base_name if name is ... else name, merged)
    if name is None:
        req.pop("name", None)
    for k, v in top.items():
        if v is ...:
            req.pop(k, None)
        else:
            req[k] = v
    return req


def group_schema(commands, ck, root):
    check_schema(commands, ck)


def group_types(commands, ck, root):
    """Every field with every JSON type but its own."""
    for cmd, spec in commands.items():
        for kind, v in wrong_values("int"):
            ck.refused(f"{cmd} version={kind}", request_of(cmd, root, version=v), "version")
        for kind, v in wrong_values("string"):
            ck.refused(f"{cmd} cmd={kind}", request_of(cmd, root, cmd=v), "cmd")
        for kind, v in wrong_values("object"):
            req = request_of(cmd, root)
            req["args"] = v
            ck.refused(f"{cmd} args={kind}", req, "args")
        if spec["name"] != "none":
            for kind, v in wrong_values("string"):
                req = request_of(cmd, root)
                req["name"] = v
                ck.refused(f"{cmd} name={kind}", req, "name")
        for a in spec["args"]:
            key, ftype = a["key"], a["type"]
            for kind, v in wrong_values(JSON_TYPE_OF_FIELD[ftype]):
                ck.refused(f"{cmd} {key}={kind} {v!r}", request_of(cmd, root, args={key: v}), f"args.{key}")
            if ftype == "strings":
                for kind, v in wrong_values("string"):
                    item = [SAMPLES[key][0], v]
                    ck.refused(f"{cmd} {key}[1]={kind}", request_of(cmd, root, args={key: item}), f"args.{key}[1]")
            if ftype == "limits":
                for kind, v in wrong_values("string"):
                    ck.refused(f"{cmd} limits.cpulimit={kind}",
                               request_of(cmd, root, args={key: {"cpulimit": v}}), f"args.{key}.cpulimit")


def group_missing(commands, ck, root):
    """Missing required fields: the version, the command, a name where one
    is needed, required args."""
    for cmd, spec in commands.items():
        ck.refused(f"{cmd} without version", request_of(cmd, root, version=...), "version")
        if spec["name"] in ("vps", "template", "slice"):
            ck.refused(f"{cmd} without name", request_of(cmd, root, name=None), "name")
        for a in spec["args"]:
            if a.get("required"):
                ck.refused(f"{cmd} without {a['key']}", request_of(cmd, root, args={a["key"]: ...}), f"args.{a['key']}")
    ck.refused("no cmd", {"version": 1, "name": "run2", "args": {"force": True}}, "cmd")


def group_extra(commands, ck, root):
    """Fields the command does not take."""
    for cmd, spec in commands.items():
        ck.refused(f"{cmd} args.bogus", request_of(cmd, root, args={"bogus": 1}), "args.bogus")
        ck.refused(f"{cmd} top-level bogus", request_of(cmd, root, bogus=1), "bogus")
        if spec["name"] == "none":
            ck.refused(f"{cmd} with a name", request_of(cmd, root, name="run2"), "name")
        for a in spec["args"]:
            if a["type"] == "limits":
                ck.refused(f"{cmd} limits.bogus", request_of(cmd, root, args={a["key"]: {"bogus": "1"}}), f"args.{a['key']}.bogus")
        # a field of another command
        taken = {a["key"] for a in spec["args"]}
        other = next(k for k in ("force", "fast", "argv") if k not in taken)
        ck.refused(f"{cmd} args.{other}", request_of(cmd, root, args={other: True}), f"args.{other}")
    for cmd in ("frobnicate", "Start", "start ", "", "start\u0000"):
        ck.refused(f"unknown command {cmd!r}", vsreq.make(cmd, "run2", {"force": True}), "cmd")


def group_nul(commands, ck, root):
    """A NUL byte inside every string: json-c keeps it, C would cut there."""
    for cmd, spec in commands.items():
        req = request_of(cmd, root, cmd=cmd + "\u0000x")
        ck.refused(f"{cmd} cmd with NUL", req, "cmd")
        if spec["name"] != "none":
            base_name = base(cmd, root)[0]
            for name in (base_name + "\u0000x", "run2\u0000x", "\u0000"):
                ck.refused(f"{cmd} name {name!r}", request_of(cmd, root, name=name), "name")
        for a in spec["args"]:
            key, ftype = a["key"], a["type"]
            sample = SAMPLES[key]
            if ftype == "string":
                ck.refused(f"{cmd} {key} with NUL", request_of(cmd, root, args={key: sample + "\u0000x"}), f"args.{key}")
            elif ftype == "strings":
                ck.refused(f"{cmd} {key}[0] with NUL", request_of(cmd, root, args={key: [sample[0] + "\u0000x"]}), f"args.{key}[0]")
            elif ftype == "limits":
                ck.refused(f"{cmd} limits value with NUL", request_of(cmd, root, args={key: {"cpulimit": "50%\u0000x"}}), f"args.{key}.cpulimit")


def group_oversize(commands, ck, root):
    """Strings one byte over their limit, arrays one item over, integers
    just outside their range and far outside it."""
    for cmd, spec in commands.items():
        ck.refused(f"{cmd} long cmd", request_of(cmd, root, cmd="c" * 200), "cmd")
        for a in spec["args"]:
            key, ftype = a["key"], a["type"]
            if ftype == "string":
                ck.refused(f"{cmd} {key} too long", request_of(cmd, root, args={key: "a" * (a["max_len"] + 1)}), f"args.{key}")
            elif ftype == "strings":
                many = [SAMPLES[key][0]] * (a["max_items"] + 1)
                ck.refused(f"{cmd} {key} too many", request_of(cmd, root, args={key: many}), f"args.{key}")
                ck.refused(f"{cmd} {key}[0] too long", request_of(cmd, root, args={key: ["a" * (a["max_len"] + 1)]}), f"args.{key}[0]")
                if a.get("min_items"):
                    ck.refused(f"{cmd} {key} empty", request_of(cmd, root, args={key: []}), f"args.{key}")
            elif ftype == "limits":
                ck.refused(f"{cmd} limit value too long", request_of(cmd, root, args={key: {"cpulimit": "5" * (a["max_len"] + 1)}}), f"args.{key}.cpulimit")
            elif ftype == "int":
                for v in (a["min"] - 1, a["max"] + 1, 2**63, -(2**63) - 1, 2**64 + 5, -(2**64)):
                    ck.refused(f"{cmd} {key}={v}", request_of(cmd, root, args={key: v}), f"args.{key}")


def group_names(commands, ck, root):
    """Names the daemon itself must refuse, whatever vsctl does."""
    for cmd, spec in commands.items():
        if spec["name"] != "none":
            for name in BAD_NAMES:
                ck.refused(f"{cmd} name {name!r}", request_of(cmd, root, name=name), "name")
        for c, key in NAME_FIELDS:
            if c == cmd:
                for name in BAD_NAMES:
                    ck.refused(f"{cmd} {key} {name!r}", request_of(cmd, root, args={key: name}), f"args.{key}")


GROUPS = {
    "schema": group_schema,
    "types": group_types,
    "missing": group_missing,
    "extra": group_extra,
    "nul": group_nul,
    "oversize": group_oversize,
    "names": group_names,
}


def main(argv):
    if len(argv) != 4 or argv[3] not in GROUPS:
        sys.stderr.write(f"usage: request_cases.py ROOT SCHEMA {{{'|'.join(GROUPS)}}}\n")
        return 2
    root, schema_path, group = argv[1:]
    commands = load_schema(schema_path)
    ck = Checker(root)
    GROUPS[group](commands, ck, root)
    return ck.finish(group)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
