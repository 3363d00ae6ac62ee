#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_cifar into tests/fuzz/corpus/fuzz_cifar/.

The layout is described in fuzz_cifar.c: a flags byte, the names text's
length (16-bit little-endian), the names text, then the record bytes that
every batch file of the folder holds. Deterministic; one record at most, so
each seed stays under the fuzzers' 4096-byte limit.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_cifar")

CIFAR100, COARSE, AUTO, NAMES = 1, 2, 4, 8


def record(labels, salt=0):
    return bytes(labels) + bytes((i * 7 + salt) & 0xFF for i in range(3072))


def seed(flags, names, records):
    if isinstance(names, str):
        names = names.encode()
    return bytes([flags]) + struct.pack("<H", len(names)) + names + records


def main():
    os.makedirs(OUT, exist_ok=True)
    c10 = "\n".join(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                     "horse", "ship", "truck"]) + "\n\n"
    fine = "".join(f"fine{k}\n" for k in range(100))
    coarse = "".join(f"coarse {k}\r\n" for k in range(20))
    seeds = {
        "c10-one": seed(0, "", record([3])),
        "c10-auto-names": seed(AUTO | NAMES, c10, record([9], 1)),
        "c10-label10": seed(0, "", record([10])),
        "c10-cut": seed(AUTO, "", record([1])[:-5]),
        "c10-coarse": seed(COARSE, "", record([2])),
        "c10-drop3": seed(0x80 | 0x30, "", record([4])),
        "c10-bad-names": seed(NAMES, "a\n\nb\n", record([0])),
        "c10-gzip": seed(0, "", b"\x1f\x8b\x08\x00" + bytes(3069)),
        "c100-fine-names": seed(CIFAR100 | NAMES, fine[:3000], record([19, 99])),
        "c100-coarse-names": seed(CIFAR100 | COARSE | NAMES | AUTO, coarse, record([5, 26])),
        "c100-fine99": seed(CIFAR100, "", record([0, 100])),
        "c100-utf8": seed(CIFAR100 | COARSE | NAMES,
                          "\u00e9t\u00e9\n".encode() * 19 + b"\xed\xa0\x80\n", record([1, 1])),
        "empty": seed(AUTO, "", b""),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
