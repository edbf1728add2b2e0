#!/usr/bin/env python3
"""Print the value of a kernel int variable, read through /proc/kcore.

Usage: kvar.py SYMBOL [SYMBOL...]      (as root)

For each SYMBOL (a data symbol, e.g. shrinker_nr_max: a static int of
mm/vmscan.c that the kernel never lowers) prints "SYMBOL VALUE", the
signed 32-bit int at the address /proc/kallsyms gives it, read from the
segment of /proc/kcore's ELF image that covers that address. Needs
CONFIG_KALLSYMS_ALL (static data in kallsyms) and CONFIG_PROC_KCORE;
prints "SYMBOL -" when the symbol or the memory cannot be read, and exits 1.
"""
import struct
import sys


def addresses(names):
    want = set(names)
    found = {}
    with open("/proc/kallsyms") as f:
        for line in f:
            parts = line.split()
            # the kernel's own symbols only: a module's have "[module]" after
            if len(parts) == 3 and parts[2] in want and parts[2] not in found:
                found[parts[2]] = int(parts[0], 16)
    return found


def segments(kcore):
    head = kcore.read(64)
    if head[:4] != b"\x7fELF" or head[4] != 2:
        raise OSError("/proc/kcore is not a 64-bit ELF image")
    phoff, = struct.unpack_from("<Q", head, 32)
    phentsize, phnum = struct.unpack_from("<HH", head, 54)
    kcore.seek(phoff)
    table = kcore.read(phentsize * phnum)
    for i in range(phnum):
        p_type, _flags, off, vaddr, _paddr, filesz, _memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", table, i * phentsize)
        if p_type == 1:  # PT_LOAD
            yield vaddr, filesz, off


def main(names):
    if not names:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        return show(names)
    except OSError as e:
        print("kvar.py:", e, file=sys.stderr)
        for name in names:
            print(name, "-")
        return 1


def show(names):
    addr = addresses(names)
    rc = 0
    with open("/proc/kcore", "rb") as kcore:
        segs = list(segments(kcore))
        for name in names:
            value = None
            a = addr.get(name, 0)
            for vaddr, size, off in segs:
                if a and vaddr <= a and a + 4 <= vaddr + size:
                    kcore.seek(off + a - vaddr)
                    value, = struct.unpack("<i", kcore.read(4))
                    break
            if value is None:
                rc = 1
            print(name, "-" if value is None else value)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
