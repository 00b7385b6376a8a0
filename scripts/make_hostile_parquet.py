#!/usr/bin/env python3
"""Writes fixtures/bad/parquet_*.parquet: small Parquet files whose footers or pages lie (issue 22),
each read by HostileRound2Tests. The Thrift compact protocol is written by hand, so that any field
can hold any value. Standard library only (pages use GZIP, Parquet codec 2); deterministic bytes.
"""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "bad")
os.makedirs(OUT, exist_ok=True)

# Compact-protocol type ids.
I32, I64, BINARY, LIST, MAP, STRUCT = 5, 6, 8, 9, 11, 12


def uvarint(n):
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def zigzag(n):
    return uvarint((n << 1) ^ (n >> 63))


class Struct:
    """A Thrift struct under construction: fields in increasing id order, then a stop byte."""

    def __init__(self):
        self.out = bytearray()
        self.last = 0

    def header(self, fid, ftype):
        delta = fid - self.last
        if 0 < delta <= 15:
            self.out.append(delta << 4 | ftype)
        else:
            self.out.append(ftype)
            self.out += zigzag(fid)
        self.last = fid

    def int(self, fid, value, ftype=I32):
        self.header(fid, ftype)
        self.out += zigzag(value)
        return self

    def string(self, fid, value):
        self.header(fid, BINARY)
        data = value.encode()
        self.out += uvarint(len(data)) + data
        return self

    def struct(self, fid, inner):
        self.header(fid, STRUCT)
        self.out += inner.bytes()
        return self

    def list(self, fid, etype, items):
        self.header(fid, LIST)
        n = len(items)
        self.out.append((n << 4 | etype) if n < 15 else (0xF0 | etype))
        if n >= 15:
            self.out += uvarint(n)
        for item in items:
            if etype == STRUCT:
                self.out += item.bytes()
            elif etype == BINARY:
                self.out += uvarint(len(item)) + item.encode()
            else:
                self.out += zigzag(item)
        return self

    def raw(self, data):
        self.out += data
        return self

    def bytes(self):
        return bytes(self.out) + b"\x00"


def element(name, ptype=None, repetition=None, children=None, converted=None):
    s = Struct()
    if ptype is not None:
        s.int(1, ptype)
    if repetition is not None:
        s.int(3, repetition)
    s.string(4, name)
    if children is not None:
        s.int(5, children)
    if converted is not None:
        s.int(6, converted)
    return s


ONE_STRING = [element("schema", children=1), element("prompt", 6, 0, converted=0)]  # required UTF8 "prompt"


def page(ptype, uncompressed, compressed, count, encoding=0, dictionary=False):
    s = Struct().int(1, ptype).int(2, uncompressed).int(3, compressed)
    if dictionary:
        s.struct(7, Struct().int(1, count).int(2, encoding))
    else:
        s.struct(5, Struct().int(1, count).int(2, encoding).int(3, 3).int(4, 3))
    return s.bytes()


def column(path, codec, count, size, data_offset, dict_offset=None):
    s = (Struct().int(1, 6).list(2, I32, [0]).list(3, BINARY, path).int(4, codec).int(5, count, I64)
         .int(6, size, I64).int(7, size, I64).int(9, data_offset, I64))
    if dict_offset is not None:
        s.int(11, dict_offset, I64)
    return s


def file_meta(schema, rows, groups, extra=b""):
    return Struct().int(1, 1).list(2, STRUCT, schema).int(3, rows, I64).list(4, STRUCT, groups).raw(extra).bytes()


def row_group(columns, rows):
    return Struct().list(1, STRUCT, [Struct().int(2, 0, I64).struct(3, c) for c in columns]).int(2, 0, I64).int(3, rows, I64)


def parquet(body, meta):
    return b"PAR1" + body + meta + struct.pack("<I", len(meta)) + b"PAR1"


def gzip_bytes(data):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# A row group of 2^62 rows and no columns (each row would be an empty object, for ever).
write("parquet_no_columns.parquet", parquet(b"", file_meta([element("schema", children=0)], 1 << 62, [row_group([], 1 << 62)])))

# Six GZIP pages of one 20 MB value each: 125 KB that decode to 120 MB.
value = b"a" * 20_000_000
plain = struct.pack("<I", len(value)) + value
body = gzip_bytes(plain)
chunk = (page(0, len(plain), len(body), 1) + body) * 6
write("parquet_pages_bomb.parquet", parquet(chunk, file_meta(ONE_STRING, 6, [row_group([column(["prompt"], 2, 6, len(chunk), 4)], 6)])))

# A 64 KB dictionary value repeated 2^26 times by one RLE run: 4 TiB from a few hundred bytes.
value = b"b" * 65536
dplain = struct.pack("<I", len(value)) + value
dbody = gzip_bytes(dplain)
dpage = page(2, len(dplain), len(dbody), 1, dictionary=True) + dbody
count = 1 << 26
indices = bytes([0]) + uvarint(count << 1)
ibody = gzip_bytes(indices)
chunk = dpage + page(0, len(indices), len(ibody), count, encoding=8) + ibody
write("parquet_dictionary_bomb.parquet",
      parquet(chunk, file_meta(ONE_STRING, count, [row_group([column(["prompt"], 2, count, len(chunk), 4 + len(dpage), 4)], count)])))

# A dictionary page that claims 1 GiB but holds 24 bytes.
body = b"\x1f\x8b" + b"\x00" * 22
chunk = page(2, 1 << 30, len(body), 1, dictionary=True) + body
write("parquet_page_claims_1gib.parquet", parquet(chunk, file_meta(ONE_STRING, 1, [row_group([column(["prompt"], 2, 1, len(chunk), 4, 4)], 1)])))

# An unknown footer field holding a list of lists 100,000 deep.
depth = 100_000
extra = bytes([LIST]) + zigzag(100) + bytes([0x10 | LIST]) * depth + bytes([0x05])
write("parquet_deep_list.parquet", parquet(b"", file_meta(ONE_STRING, 0, [], extra)))

# 4,000 unknown map<bool, bool> fields of 48 entries each (0.2 MB of footer).
one = bytes([MAP]) + zigzag(100) + uvarint(48) + bytes([0x11]) + b"\x01\x02" * 48
write("parquet_bool_maps.parquet", parquet(b"", file_meta(ONE_STRING, 0, [], one * 4000)))

# The same without the entries' bytes (a writer that packs booleans into the map header): each of
# 192,000 claimed entries must still consume a byte, so this fails at once instead of in O(n^2).
one = bytes([MAP]) + zigzag(100) + uvarint(192_000) + bytes([0x11])
write("parquet_bool_maps_unbacked.parquet", parquet(b"", file_meta(ONE_STRING, 0, [], one * 32_000)))
