#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/.

Deterministic (gzip with mtime 0), so rerunning it changes nothing unless
this file changed. Seeds are small: libFuzzer mutates them, and a small
corpus keeps each round fast. Run from anywhere: python3 make_corpus.py
"""
import gzip
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


# ---------------------------------------------------------------- configs

YAML = {
    "minimal.yaml": "name: x\n",
    "full.yaml": """name: full
data:
  dir: /tmp/data
  validation_split: 0.1
  train_limit: 100
train:
  batch_size: 32
  optimizer: sgd
  learning_rate: 0.01
grid:
  activation: [relu, elu, leaky_relu, prelu]
  alpha: [1.0, 0.3, 0.05]
  init: [he, glorot]
  dropout: [0, 0.25, 0.5]
  epochs: [1, 2]
  seed: {from: 1, to: 3}
exclude:
  - {activation: elu, alpha: 0.3}
  - {init: glorot, dropout: 0.5}
  - {seed: 2}
""",
    "grid-lr-batch.yaml": """name: lr
grid:
  batch_size: [16, 32, 250]
  learning_rate: [1e-3, 0.0005, "0.1"]
  seed: [0, 9007199254740992]
""",
    "all-excluded.yaml": """name: none
grid: {activation: [elu], seed: [1]}
exclude:
  - {activation: elu}
""",
    "flow.yaml": "{name: flow, grid: {activation: [relu, elu], alpha: [1], seed: [1, 2]}, "
                 "exclude: [{activation: elu, seed: 2}]}\n",
    "billion-laughs.yaml": """name: &a lol
data: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
train: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
grid: [*c, *c, *c, *c, *c, *c, *c, *c, *c]
""",
    "anchor-only.yaml": "name: &n anchored\ngrid: &g {seed: [1]}\n",
    "merge-key.yaml": "name: m\nbase: &b {seed: [1]}\ngrid:\n  <<: *b\n",
    "deep-flow.yaml": "name: deep\ngrid: " + "[" * 40 + "]" * 40 + "\n",
    "deep-map.yaml": "name: deep\n" + "".join("  " * i + "k%d:\n" % i for i in range(40)),
    "deep-block-seq.yaml": "name: d\ngrid:\n  seed:\n" + "".join(
        "    " + "  " * i + "-\n" for i in range(36)),
    "latin1-name.yaml": b"name: caf\xe9\n",
    "bad-utf8.yaml": b"name: \xc3\x28 \xff\xfe\n",
    "utf8-bom.yaml": b"\xef\xbb\xbfname: bom\n",
    "utf16-bom.yaml": "\ufeffname: wide\n".encode("utf-16-le"),
    "nul-in-name.yaml": b'name: "a\\0b"\ndata: {dir: "x\\0y"}\n',
    "raw-nul.yaml": b"name: a\x00b\n",
    "control-chars.yaml": b'name: "line1\\nline2\\t\\x1b[31m"\n',
    "long-name.yaml": "name: " + "\u00e9" * 201 + "\n",
    "huge-numbers.yaml": """name: huge
grid:
  epochs: [99999999999999999999999999]
  seed: [9007199254740993]
  learning_rate: [1e309]
  alpha: [-0.0, 1e-320]
  dropout: [0.99999999999999999]
""",
    "int-edge.yaml": """name: ints
data: {train_limit: 9223372036854775808}
train: {batch_size: 65537}
grid: {epochs: [100001], seed: [-1]}
""",
    "special-floats.yaml": """name: f
grid:
  alpha: [.nan, .inf, -.inf, nan, inf, 0x10, 1_000, 0o17, +1.5e+2]
""",
    "quoted-numbers.yaml": """name: q
grid:
  dropout: ['0.25', "0.5"]
  epochs: ["3"]
  seed: ['1', "2"]
""",
    "sql-name.yaml": "name: \"x'); DROP TABLE runs; --\"\n"
                     "data: {dir: \"/tmp/'; DELETE FROM runs; --\"}\n",
    "sql-name2.yaml": "name: Robert'); DROP TABLE Students;--\n",
    "seed-range-max.yaml": "name: s\ngrid: {seed: {from: 0, to: 99999}}\n",
    "seed-range-over.yaml": "name: s\ngrid: {seed: {from: 0, to: 100000}}\n",
    "seed-range-empty.yaml": "name: s\ngrid: {seed: {from: 5, to: 1}}\n",
    "seed-range-huge.yaml": "name: s\ngrid: {seed: {from: 0, to: 9007199254740992}}\n",
    "seed-range-bad.yaml": "name: s\ngrid: {seed: {from: 1, too: 3, step: 2}}\n",
    "grid-over-limit.yaml": """name: big
grid:
  activation: [relu, elu, leaky_relu, prelu]
  alpha: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  init: [he, glorot]
  dropout: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
  epochs: [1, 2, 3, 4, 5]
  seed: {from: 1, to: 200}
""",
    "exclude-relu-alpha.yaml": """name: e
grid: {activation: [relu, elu], alpha: [1, 2]}
exclude:
  - {activation: relu, alpha: 1}
""",
    "exclude-shapes.yaml": """name: e
exclude:
  - {}
  - [activation, relu]
  - {activation: [relu, elu]}
  - {actvation: relu}
""",
    "exclude-null.yaml": "name: e\nexclude: ~\ngrid: null\ntrain:\ndata: NULL\n",
    "duplicates.yaml": """name: d
name: d2
grid:
  seed: [1, 2, 1]
  dropout: [0.5, 0.50]
""",
    "typos.yaml": """Name: t
dta: {}
grid: {activaton: [Relu, ELU, leaky-relu], init: [He, xavier], optimiser: adam}
""",
    "both-places.yaml": "name: b\ntrain: {batch_size: 32}\ngrid: {batch_size: [16, 32]}\n",
    "tags.yaml": "name: !!str t\ngrid: {seed: !!int \"3\", alpha: !custom 1}\n",
    "python-tag.yaml": "name: !!python/object/apply:os.system ['rm -rf /']\n",
    "multi-doc.yaml": "---\nname: one\n...\n---\nname: two\n",
    "directives.yaml": "%YAML 1.1\n%TAG ! tag:example.com,2000:\n---\nname: d\n",
    "block-scalars.yaml": "name: |\n  multi\n  line\ndata:\n  dir: >-\n    /folded\n    path\n",
    "crlf.yaml": "name: crlf\r\ngrid:\r\n  seed: [1, 2]\r\n",
    "tabs.yaml": "name: t\ngrid:\n\tseed: [1]\n",
    "complex-key.yaml": "? [a, b]\n: c\nname: k\n",
    "map-key.yaml": "{a: 1}: x\nname: k\n",
    "scalar-root.yaml": "just a string\n",
    "list-root.yaml": "- name: x\n",
    "empty.yaml": "",
    "comment-only.yaml": "# nothing here\n",
    "unterminated.yaml": "name: \"open\ngrid: [1, 2\n",
    "bad-indent.yaml": "name: x\n  grid: y\n bad\n",
    "train-list.yaml": "name: t\ntrain: {batch_size: [32, 64], learning_rate: {a: 1}, optimizer: adamw}\n",
    "epochs-float.yaml": "name: e\ngrid: {epochs: [2.5, 1e3, 03, +4]}\n",
    "validation.yaml": "name: v\ndata: {validation_split: 1}\n",
    "model.yaml": "name: m\nmodel: {conv: [16, 32, 64], dense: [128, 64]}\n",
    "model-grid.yaml": """name: mg
grid:
  model: [{conv: [32, 64], dense: [256]}, {conv: [8]}, {conv: [4096], dense: []}]
  seed: [1, 2]
exclude:
  - {model: {conv: [8]}, seed: 2}
""",
    "model-bad.yaml": """name: mb
grid:
  model: [{conv: [32, 64, 128, 256]}, {conv: [0]}, {conv: [32], dense: [65537]},
          {conv: []}, {conv: [1, 2, 3, 4, 5, 6, 7, 8, 9]}, {cnv: [1]}, {conv: [8]}, {conv: [8]}]
""",
    "model-huge.yaml": "name: mh\nmodel: {conv: [4096, 4096], dense: [65536, 65536]}\n",
    "model-both.yaml": "name: mb\nmodel: {conv: [8]}\ngrid: {model: [{conv: [8]}]}\n",
    "early-stopping.yaml": """name: es
train:
  early_stopping: {monitor: val_accuracy, patience: 3, restore_best: true}
""",
    "early-stopping-bad.yaml": """name: es
train:
  early_stopping: {monitor: loss, patience: 0, restore_best: yes, delta: 1}
""",
}


def configs():
    for name in sorted(os.listdir(os.path.join(ROOT, "configs"))):
        if name.endswith(".yaml"):
            shutil.copy(os.path.join(ROOT, "configs", name),
                        os.path.join(OUT, "fuzz_config", "repo-" + name))
    for name, text in YAML.items():
        write("fuzz_config", name, text)


# ---------------------------------------------------------------- IDX files

def idx(sizes, data, type_byte=0x08):
    head = bytes([0, 0, type_byte, len(sizes)]) + b"".join(struct.pack(">I", s) for s in sizes)
    return head + bytes(data)


def images(n, rows, cols, salt=0):
    return idx([n, rows, cols], [(i * 37 + salt) % 256 for i in range(n * rows * cols)])


def labels(n, salt=0, top=10):
    return idx([n], [(i * 7 + salt) % top for i in range(n)])


def idx_files():
    t = "fuzz_idx"
    img, lab = images(20, 8, 8), labels(20)
    write(t, "images-20x8x8.idx", img)
    write(t, "labels-20.idx", lab)
    write(t, "matrix-3x5.idx", idx([3, 5], range(15)))
    write(t, "images-20x8x8.idx.gz", gz(img))
    write(t, "labels-20.idx.gz", gz(lab))
    write(t, "empty-images.idx", idx([0, 28, 28], []))
    write(t, "zero-rows.idx", idx([5, 0, 3], []))
    write(t, "empty-file", b"")
    write(t, "short-header.idx", img[:7])
    write(t, "header-only.idx", img[:16])
    write(t, "truncated.idx", img[:-1])
    write(t, "trailing.idx", img + b"\0")
    write(t, "wrong-magic.idx", b"\1" + img[1:])
    write(t, "wrong-type.idx", idx([4], range(16), type_byte=0x0D)[:8] + bytes(16))
    write(t, "four-dims.idx", idx([1, 1, 1, 1], [7]))
    write(t, "huge-dims.idx", idx([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], []))
    write(t, "dims-2gib.idx", idx([0x8000, 0x8000, 2], []))
    write(t, "dims-overflow-then-zero.idx", idx([0xFFFFFFFF, 0xFFFFFFFF, 0], []))
    write(t, "liar-gz.gz", gz(idx([60000, 28, 28], [1] * 100)))
    z = gz(img)
    write(t, "gz-cut.gz", z[:-1])
    write(t, "gz-cut-half.gz", z[: len(z) // 2])
    write(t, "gz-bad-crc.gz", z[:-8] + bytes([z[-8] ^ 1]) + z[-7:])
    write(t, "gz-bad-len.gz", z[:-1] + bytes([z[-1] ^ 1]))
    write(t, "gz-trailing-junk.gz", z + b"junk")
    write(t, "gz-trailing-magic.gz", z + b"\x1f\x8b\x08\0")
    write(t, "gz-two-members.gz", gz(lab[:10]) + gz(lab[10:]))
    write(t, "gz-of-trailing.gz", gz(lab + b"\0"))
    write(t, "gz-header-only", b"\x1f\x8b\x08\0\0\0\0\0\0\3")
    write(t, "gz-bad-method", b"\x1f\x8b\x07" + z[3:])
    write(t, "gz-magic-only", b"\x1f\x8b")
    # 300 KiB of valid deflate, then an invalid block type: zlib fills its
    # 256 KiB buffer first, so the error comes on a later read.
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    write(t, "gz-corrupt-after-300k.gz",
          co.compress(idx([1024, 32, 32], bytes(300 * 1024))) + co.flush(zlib.Z_SYNC_FLUSH)
          + b"\xff\xff\xff\xff")
    # A small bomb: 256 KiB of zeros behind a header promising them.
    write(t, "gz-zeros-256k.gz", gz(idx([1024, 16, 16], bytes(1024 * 256))))
    # Past the first 1 MiB chunk, so the buffer grows as data arrives; and a
    # header promising 2 GiB with 1.1 MiB behind it.
    write(t, "gz-zeros-1100k.gz", gz(idx([1100, 32, 32], bytes(1100 * 1024))))
    write(t, "gz-liar-2g.gz", gz(idx([0x8000, 0x100, 0x100], bytes(1100 * 1024))[:16]
                                 + bytes(1100 * 1024)))


# ---------------------------------------------------------------- datasets

def folder(files, modes=(0, 0, 0, 0)):
    """The fuzz_dataset layout: 4 mode bytes, 3 lengths, the 4 files."""
    assert all(len(f) < 65536 for f in files[:3])
    return (bytes(modes) + b"".join(struct.pack("<H", len(f)) for f in files[:3])
            + b"".join(files))


def dataset_files():
    t = "fuzz_dataset"
    good = [images(12, 8, 8), labels(12), images(5, 8, 8, 3), labels(5, 2)]
    write(t, "valid-raw", folder(good))
    write(t, "valid-gz", folder(good, (1, 1, 1, 1)))
    write(t, "valid-dotted-mixed", folder(good, (4, 1, 5, 0)))
    write(t, "valid-with-junk", folder(good, (9, 8, 13, 1)))
    write(t, "valid-1x1", folder([images(1, 1, 1), labels(1), images(1, 1, 1), labels(1)]))
    write(t, "gz-name-raw-bytes", folder(good, (2, 0, 0, 0)))
    write(t, "missing-test-labels", folder(good, (0, 0, 0, 3)))
    write(t, "count-mismatch-train",
          folder([images(12, 8, 8), labels(11), good[2], good[3]]))
    write(t, "count-mismatch-test",
          folder([good[0], good[1], images(5, 8, 8), labels(6)], (1, 0, 1, 0)))
    write(t, "size-mismatch", folder([good[0], good[1], images(5, 8, 7), good[3]]))
    write(t, "size-transposed", folder([images(6, 4, 8), labels(6), images(5, 8, 4), good[3]]))
    write(t, "label-10", folder([good[0], labels(12, 0, 11), good[2], good[3]]))
    write(t, "label-255-test", folder([good[0], good[1], good[2], idx([5], [0, 1, 2, 3, 255])]))
    write(t, "no-train", folder([images(0, 8, 8), labels(0), good[2], good[3]]))
    write(t, "no-test", folder([good[0], good[1], images(0, 8, 8), labels(0)], (1, 1, 1, 1)))
    write(t, "zero-cols", folder([images(3, 8, 0), labels(3), images(2, 8, 0), labels(2)]))
    write(t, "labels-as-images", folder([good[1], good[0], good[3], good[2]]))
    write(t, "truncated-test", folder([good[0], good[1], good[2][:-3], good[3]]))
    write(t, "fuzzer-gz", folder([gz(good[0]), good[1], good[2], gz(good[3])]))
    write(t, "header-only", bytes(10))


def main():
    # Overwrites the named seeds only: inputs merged by FUZZ_MERGE=1 stay.
    os.makedirs(os.path.join(OUT, "fuzz_config"), exist_ok=True)
    configs()
    idx_files()
    dataset_files()


if __name__ == "__main__":
    main()
