"""File recognition: every kind of unusable file fails fast with a message naming the file."""

from __future__ import annotations

import gzip

import pytest

from analytics.errors import InputFileError
from analytics.store.files import sniff


def test_csv_header_and_delimiter_are_read(write):
    path = write("e.csv", "user_id;event;ts\nu1;a;2024-01-01\n")
    sniffed = sniff(path)
    assert (sniffed.format, sniffed.delimiter, sniffed.header) == (
        "csv", ";", ["user_id", "event", "ts"])


def test_tsv_and_bom(write):
    sniffed = sniff(write("e.tsv", "\ufeffuser_id\tevent\n"))
    assert sniffed.delimiter == "\t"
    assert sniffed.header == ["user_id", "event"]


@pytest.mark.parametrize("name, content, words", [
    ("empty.csv", b"", "the file is empty"),
    ("book.csv", b"PK\x03\x04rest-of-a-zip", "Excel"),
    ("report.csv", b"%PDF-1.7 ...", "PDF"),
    ("data.xlsx", b"a,b\n1,2\n", "unsupported file type '.xlsx'"),
    ("data", b"a,b\n1,2\n", "(no extension)"),
    ("fake.parquet", b"a,b\n1,2\n", "not a valid Parquet file"),
    ("nul.csv", b"a,b\n1,\x00\x01\x02\n", "binary data"),
    ("latin.csv", "name,city\nJosé,Zürich\n".encode("latin-1") + b"x" * 100, "not UTF-8"),
    ("blank.csv", b"\n\na,b\n", "line 1 is blank"),
    ("dup.csv", b"a,b,a\n1,2,3\n", "column 'a' appears twice"),
    ("e.jsonl", b"[1,2,3]\n", "not JSON Lines"),
])
def test_unusable_files_are_named_with_the_problem(write, name, content, words):
    path = write(name, content)
    with pytest.raises(InputFileError) as info:
        sniff(path)
    assert str(path) in str(info.value)
    assert words in str(info.value)


def test_gzip_is_recognised(write, tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    with pytest.raises(InputFileError, match="gzip"):
        sniff(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        sniff(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="is a folder"):
        sniff(tmp_path)


def test_long_first_line_is_refused_without_reading_the_file(write):
    path = write("long.csv", "a" * 5000 + "\n1\n")
    with pytest.raises(InputFileError, match="line 1 is longer than"):
        sniff(path, max_line_bytes=1024)


@pytest.mark.slow
def test_one_gigabyte_single_line_is_refused_and_nothing_is_loaded(tmp_path):
    from analytics.store import EventStore, ingest_files

    path = tmp_path / "huge.csv"
    block = b"x" * (1 << 20)
    with path.open("wb") as handle:
        for _ in range(1024):
            handle.write(block)
    store = EventStore(tmp_path / "home")
    with pytest.raises(InputFileError, match="line 1 is longer than 1024 KiB") as info:
        ingest_files(store, "events", [path])
    assert str(path) in str(info.value)
    assert not store.exists() or _count(store, "events") == 0


def _count(store, table):
    with store.reader() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
