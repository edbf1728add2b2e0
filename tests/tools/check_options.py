#!/usr/bin/env python3
"""Checks that vsctl's options are the same in its --help, in vsctl(8) and in
the bash completion: per command, the set of options each names. Prints
every difference and exits 1 when there is one.

usage: check_options.py VSCTL TOPDIR
"""
import re
import subprocess
import sys

LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT = re.compile(r"(?<![\w-])-[a-zA-Z0-9](?![\w-])")
# words of the prose that look like options but are not vsctl's
NOT_OPTIONS = {"--", "--help", "-h"}


def options(text):
    found = set(LONG.findall(text)) | set(SHORT.findall(text))
    return found - NOT_OPTIONS


def completion(path):
    text = open(path).read()
    commands = re.search(r'local commands="([^"]*)"', text).group(1).split()
    limit = re.search(r'local limitopts="([^"]*)"', text).group(1)
    block = text[text.index("case $cmd in"):]
    block = block[: block.index("esac")]
    per_cmd = {}
    for m in re.finditer(r"^\s*([a-z| ]+)\)(.*?)(?=^\s*[a-z| ]+\)|\Z)", block, re.M | re.S):
        opts = re.search(r'opts="([^"]*)"', m.group(2))
        words = opts.group(1).replace("$limitopts", limit) if opts else ""
        for name in m.group(1).split("|"):
            per_cmd[name.strip()] = options(words)
    return commands, per_cmd


def man_options(entry):
    """The options of a man page entry: its synopsis line and the tags of
    its .TP paragraphs (prose may name other commands' options)."""
    lines = entry.split("\n")
    tagged = [lines[0]] + [lines[i + 1] for i in range(len(lines) - 1) if lines[i] == ".TP"]
    return options("\n".join(tagged))


def help_options(text):
    """The options of a --help text: its usage lines and its option lines."""
    keep, in_usage = [], False
    for line in text.split("\n"):
        if line.startswith("Usage:"):
            in_usage = True
        elif not line.strip():
            in_usage = False
        if in_usage or re.match(r"\s+-", line):
            keep.append(line)
    return options("\n".join(keep))


def man_section(path, title):
    text = open(path).read().replace("\\-", "-")
    text = text[text.index(".SH " + title):]
    return text[: text.index("\n.SH ", 1)]


def man_sections(path):
    """The text of each command's entry in COMMANDS, by command."""
    text = open(path).read().replace("\\-", "-")
    text = text[text.index(".SH COMMANDS"):]
    text = text[: text.index("\n.SH ", 1)]
    sections = {}
    entries = re.split(r"\n\.TP\n\.B ", text)
    for entry in entries[1:]:
        name = entry.split()[0]
        sections[name] = sections.get(name, "") + entry
    return sections


def main():
    vsctl, top = sys.argv[1], sys.argv[2]
    commands, comp = completion(f"{top}/contrib/bash-completion/vsctl")
    man = man_sections(f"{top}/contrib/man/vsctl.8")
    limits = man_section(f"{top}/contrib/man/vsctl.8", "LIMITS")
    bad = 0
    for cmd in commands:
        if cmd in ("help", "delete", "template"):
            continue  # help has none; delete is destroy's alias; template's are per subcommand
        run = subprocess.run([vsctl, cmd, "--help"], capture_output=True, text=True)
        if run.returncode != 0:
            print(f"vsctl {cmd} --help: exit {run.returncode}")
            bad = 1
            continue
        in_man = man_options(man.get(cmd, ""))
        if "LIMIT-OPTIONS" in man.get(cmd, ""):
            in_man |= man_options(limits)
        sources = {
            "vsctl --help": help_options(run.stdout),
            "completion": comp.get(cmd, set()),
            "vsctl.8": in_man,
        }
        every = set().union(*sources.values())
        for where, opts in sources.items():
            missing = sorted(every - opts)
            if missing:
                print(f"{cmd}: {where} lacks {' '.join(missing)}")
                bad = 1
    if not bad:
        print(f"options: --help, vsctl.8 and the completion agree for {len(commands)} commands")
    return bad


sys.exit(main())
