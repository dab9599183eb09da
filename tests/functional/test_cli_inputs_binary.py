"""Input whose shape is odd at the start: gzip whose first bytes are damaged or preceded by junk,
binary data that is not gzip, gzip after text, UTF-16 text, a pipe that hands out a few bytes at
a time. The CLI must decode what the library decodes from the same bytes, and say what it
could not, once, naming the input and the step."""

from __future__ import annotations

import base64
import json

from logstream import iter_log_streams
from logstream import testing as t
from tests.conftest import run_cli, run_cli_trickled

REPORT = (
    "REPORT RequestId: {id}\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 60 MB\t\n"
)


def _docs(n: int) -> list[dict]:
    return [t.make_document([f"event {i}\n"], log_stream=f"s{i}") for i in range(n)]


def _members(docs: list[dict]) -> list[bytes]:
    return [t.gzip_member(t.document_json(d)) for d in docs]


def _damaged(member: bytes, index: int = 0, bit: int = 0x04) -> bytes:
    out = bytearray(member)
    out[index] ^= bit
    return bytes(out)


def _documents(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def _library(data: bytes) -> tuple[list[dict], list[str]]:
    errors: list = []
    docs = [s.to_document() for s in iter_log_streams(data, on_error=errors.append)]
    return docs, [str(e) for e in errors]


# ------------------------------------------------------------------- damaged or late gzip start
def test_given_an_object_whose_first_magic_byte_is_damaged_then_the_other_members_and_member_1_named(
    tmp_path,
):
    docs = _docs(3)
    m = _members(docs)
    path = tmp_path / "object.gz"
    path.write_bytes(_damaged(m[0]) + m[1] + m[2])
    done = run_cli("decode", "--documents", str(path))
    assert done.returncode == 1
    assert _documents(done.stdout) == docs[1:]
    err = done.stderr.decode().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"logstream: {path}: decompress: corrupt compressed data in member 1")
    assert "Traceback" not in done.stderr.decode()


def test_given_the_second_magic_byte_damaged_then_decode_prints_what_the_library_gives(tmp_path):
    docs = _docs(3)
    m = _members(docs)
    data = _damaged(m[0], 1, 0x01) + m[1] + m[2]
    expected_docs, expected_errors = _library(data)
    assert expected_docs == docs[1:] and len(expected_errors) == 1  # the library recovers
    path = tmp_path / "object.gz"
    path.write_bytes(data)
    done = run_cli("decode", "--documents", str(path))
    assert done.returncode == 1
    assert _documents(done.stdout) == docs[1:]
    assert done.stderr.decode() == f"logstream: {path}: {expected_errors[0]}\n"


def test_given_a_damaged_first_member_on_a_pipe_in_small_pieces_then_the_same_as_from_a_file():
    docs = _docs(3)
    m = _members(docs)
    data = _damaged(m[0]) + m[1] + m[2]
    status, stdout, stderr = run_cli_trickled("decode", "--documents", stdin=data)  # output fits the pipe
    assert status == 1
    assert _documents(stdout) == docs[1:]
    assert stderr.startswith("logstream: <stdin>: decompress: corrupt compressed data in member 1")
    assert len(stderr.splitlines()) == 1


def test_given_junk_bytes_before_a_gzip_object_then_its_members_decoded_and_the_junk_reported(tmp_path):
    docs = _docs(2)
    m = _members(docs)
    for junk in (b"\x00\x01junk", b"\x00" * 16, b"ab"):
        path = tmp_path / "object.gz"
        path.write_bytes(junk + m[0] + m[1])
        done = run_cli("decode", "--documents", str(path))
        assert done.returncode == 1, junk
        assert _documents(done.stdout) == docs, junk
        reason = f"{len(junk)} bytes that are not gzip or zlib data before member 1"
        assert done.stderr.decode() == f"logstream: {path}: decompress: {reason}\n", junk


def test_given_http_headers_before_a_gzip_body_then_its_members_decoded(tmp_path):
    """``curl -i`` saved with the response: text lines, then the binary body."""
    docs = _docs(2)
    body = b"".join(_members(docs))
    path = tmp_path / "response"
    path.write_bytes(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" + body)
    done = run_cli("decode", "--documents", str(path))
    assert done.returncode == 1
    assert _documents(done.stdout) == docs
    assert f"logstream: {path}: " in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()


def test_given_text_lines_then_a_gzip_object_then_report_reads_both():
    """``cat function.log object.gz | logstream report``: text longer than a first look, then gzip."""
    text = "".join(REPORT.format(id=f"t{i}") for i in range(20)).encode()
    assert len(text) > 1024
    doc = t.make_document([REPORT.format(id="g1"), REPORT.format(id="g2")])
    done = run_cli("report", stdin=text + t.s3_object([doc]))
    assert done.stderr == b""
    assert done.returncode == 0
    assert [r["requestId"] for r in _documents(done.stdout)] == [f"t{i}" for i in range(20)] + ["g1", "g2"]


def test_given_a_short_text_then_a_gzip_object_then_report_reads_both():
    """The README's ``cat app.log object.gz``: text shorter than the first look (512 bytes), so
    the start of the gzip data is inside it. Before, the whole input was taken for binary and
    the text was one 'not gzip or zlib data' error."""
    for lines in (1, 3):
        text = "".join(REPORT.format(id=f"t{i}") for i in range(lines)).encode()
        assert len(text) < 512
        doc = t.make_document([REPORT.format(id="g1")])
        done = run_cli("report", stdin=text + t.s3_object([doc]))
        assert done.stderr == b"", lines
        assert done.returncode == 0
        assert [r["requestId"] for r in _documents(done.stdout)] == [f"t{i}" for i in range(lines)] + ["g1"]


def test_given_text_lines_then_a_gzip_object_then_decode_names_the_text_and_decodes_the_object():
    docs = _docs(2)
    text = b"a line that is not a payload\n" * 40
    done = run_cli("decode", "--documents", stdin=text + t.s3_object(docs))
    assert done.returncode == 1
    assert _documents(done.stdout) == docs
    assert done.stderr.decode().splitlines() == [
        f"logstream: <stdin>: line {i}: envelope: neither JSON, a base64 payload nor an 'aws logs tail' line"
        for i in range(1, 41)
    ]


def test_given_binary_data_that_is_not_gzip_then_one_error_naming_the_file_and_the_step(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(bytes(range(256)) * 64)  # 16 KiB, 64 "lines"
    for command in ("decode", "report", "encode"):
        done = run_cli(command, str(path))
        assert done.returncode == 1, command
        assert done.stdout == b"", command
        assert done.stderr.decode() == (
            f"logstream: {path}: decompress: not gzip or zlib data (no gzip/zlib header)\n"
        ), command


def test_given_a_firehose_object_compressed_as_zip_or_snappy_then_the_error_names_the_format(tmp_path):
    """Firehose's S3 delivery offers ZIP and Snappy besides gzip: the user is told which it is."""
    import io
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("part-0000", t.document_json(_docs(1)[0]))
    cases = {
        "object.zip": (archive.getvalue(), "a ZIP archive (Firehose's ZIP compression): unzip it first"),
        "object.snappy": (
            b"\xff\x06\x00\x00sNaPpY" + bytes(range(64)),
            "Snappy framed data (Firehose's Snappy compression): not read here",
        ),
    }
    for name, (data, what) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        done = run_cli("decode", str(path))
        assert done.returncode == 1, name
        assert done.stdout == b"", name
        assert done.stderr.decode() == (
            f"logstream: {path}: decompress: not gzip or zlib data (no gzip/zlib header); it is {what}\n"
        ), name


def test_given_encode_of_an_object_with_a_damaged_first_member_then_the_other_members_encoded(tmp_path):
    docs = _docs(3)
    m = _members(docs)
    path = tmp_path / "object.gz"
    path.write_bytes(_damaged(m[0]) + m[1] + m[2])
    enc = run_cli("encode", "--to", "s3", str(path))
    assert enc.returncode == 1
    assert "decompress: corrupt compressed data in member 1" in enc.stderr.decode()
    back = run_cli("decode", "--documents", stdin=enc.stdout)
    assert back.returncode == 0, back.stderr
    assert _documents(back.stdout) == docs[1:]


# ---------------------------------------------------------------------------------- UTF-16 text
def test_given_utf16_text_with_a_byte_order_mark_then_read_as_the_same_text_in_utf8(tmp_path):
    """What Windows PowerShell 5's ``>`` writes (UTF-16 LE with a BOM), and the big-endian kind."""
    docs = _docs(2)
    pretty = json.dumps(docs[0], indent=2) + "\n"
    lines = "".join(base64.b64encode(m).decode() + "\r\n" for m in _members(docs))
    for codec in ("utf-16-le", "utf-16-be"):
        bom = "\ufeff".encode(codec)
        path = tmp_path / f"{codec}.json"
        path.write_bytes(bom + pretty.encode(codec))
        done = run_cli("decode", "--documents", str(path))
        assert done.returncode == 0 and done.stderr == b"", (codec, done.stderr)
        assert _documents(done.stdout) == docs[:1], codec
        path.write_bytes(bom + lines.encode(codec))
        done = run_cli("decode", "--documents", str(path))
        assert done.returncode == 0 and done.stderr == b"", (codec, done.stderr)
        assert _documents(done.stdout) == docs, codec


def test_given_utf16_plain_text_then_encode_keeps_every_character():
    text = "caf\u00e9 \U0001f600 line one\r\nline two\n"
    enc = run_cli("encode", stdin="\ufeff".encode("utf-16-le") + text.encode("utf-16-le"))
    assert enc.returncode == 0, enc.stderr
    back = run_cli("decode", "--messages", stdin=enc.stdout)
    assert back.returncode == 0, back.stderr
    assert back.stdout == text.encode("utf-8")


def test_given_utf16_text_without_a_byte_order_mark_then_read_as_the_same_text_in_utf8(tmp_path):
    """What ``iconv -t UTF-16LE`` / ``UTF-16BE`` and some PowerShell ``Out-File`` modes write: no
    byte order mark, NUL in every other byte. Before, each line was 'neither JSON, a base64
    payload nor an aws logs tail line' for decode, and encode kept the NUL bytes in the text."""
    docs = _docs(2)
    pretty = json.dumps(docs[0], indent=2) + "\n"
    lines = "".join(base64.b64encode(m).decode() + "\r\n" for m in _members(docs))
    plain = "caf\u00e9 line one\r\n" + REPORT.format(id="r1")
    for codec in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"{codec}.json"
        path.write_bytes(pretty.encode(codec))
        done = run_cli("decode", "--documents", str(path))
        assert (done.returncode, done.stderr) == (0, b""), codec
        assert _documents(done.stdout) == docs[:1], codec
        path.write_bytes(lines.encode(codec))
        done = run_cli("decode", "--documents", str(path))
        assert (done.returncode, done.stderr) == (0, b""), codec
        assert _documents(done.stdout) == docs, codec
        report = run_cli("report", stdin=plain.encode(codec))
        assert (report.returncode, report.stderr) == (0, b""), codec
        assert [r["requestId"] for r in _documents(report.stdout)] == ["r1"]
        enc = run_cli("encode", stdin=plain.encode(codec))
        back = run_cli("decode", "--messages", stdin=enc.stdout)
        assert back.stdout == plain.encode("utf-8"), codec


def test_given_utf16_text_without_a_byte_order_mark_on_a_pipe_in_small_pieces_then_the_same():
    docs = _docs(3)
    data = "".join(base64.b64encode(m).decode() + "\n" for m in _members(docs)).encode("utf-16-le")
    # odd-sized pieces: code units split between writes
    status, stdout, stderr = run_cli_trickled("decode", "--documents", stdin=data, step=5)
    assert (status, stderr) == (0, "")
    assert _documents(stdout) == docs


def test_given_utf16_text_cut_in_the_middle_of_a_character_then_one_error_and_the_rest_decoded():
    """A download cut at an odd byte: before, a UnicodeDecodeError traceback and nothing after
    the error; now the half character is U+FFFD on a last line of its own, reported as such."""
    docs = _docs(2)
    lines = "".join(base64.b64encode(m).decode() + "\n" for m in _members(docs))
    for stdin in (
        "\ufeff".encode("utf-16-le") + lines.encode("utf-16-le") + b"x",
        lines.encode("utf-16-be") + b"x",
    ):
        done = run_cli("decode", "--documents", stdin=stdin)
        assert done.returncode == 1
        assert _documents(done.stdout) == docs
        assert done.stderr.decode() == (
            "logstream: <stdin>: line 3: envelope: "
            "neither JSON, a base64 payload nor an 'aws logs tail' line\n"
        )


def test_given_binary_with_nul_in_every_other_byte_then_not_taken_for_utf16():
    """Little-endian 16-bit numbers (NUL high bytes, control characters as text) and NUL padding
    before text stay what they were: binary, and text."""
    numbers = bytes(b for i in range(300) for b in (i % 256, 0))
    done = run_cli("decode", stdin=numbers)
    assert done.returncode == 1
    assert done.stderr.decode() == (
        "logstream: <stdin>: decompress: not gzip or zlib data (no gzip/zlib header)\n"
    )
    padded = b"\x00" * 601 + b"[INFO] restarted\n" + REPORT.format(id="r1").encode()
    done = run_cli("report", stdin=padded)
    assert (done.returncode, done.stderr) == (0, b"")
    assert [r["requestId"] for r in _documents(done.stdout)] == ["r1"]


# ----------------------------------------------------------------------- text that stays text
def test_given_text_with_terminal_controls_or_leading_nul_bytes_then_still_read_as_text():
    """Coloured logs and terminal captures (escape, bell, backspace, shift out/in), and a log
    file truncated under its writer (``copytruncate``: NUL bytes, then text) are text."""
    report = REPORT.format(id="r1")
    for first in (
        "\x1b[32mINFO\x1b[0m \x1b]0;title\x07 done\x08\x0e\x0f\n",
        "\x00" * 600 + "[INFO] restarted\n",
    ):
        done = run_cli("report", stdin=(first + report).encode())
        assert done.returncode == 0 and done.stderr == b"", (first, done.stderr)
        assert [r["requestId"] for r in _documents(done.stdout)] == ["r1"]
        enc = run_cli("encode", stdin=(first + report).encode())
        back = run_cli("decode", "--messages", stdin=enc.stdout)
        assert back.stdout == (first + report).encode()


def test_given_utf8_text_with_rare_control_characters_then_still_read_as_text():
    """FIX engine logs separate fields with SOH (0x01), some tools write NUL or record
    separators (0x1e) inside lines: valid UTF-8 text with such bytes is text, not binary."""
    report = REPORT.format(id="r1")
    for first in (
        "8=FIX.4.4\x019=65\x0135=A\x0149=SERVER\x0156=CLIENT\x0134=177\x0110=062\x01 é\n",
        "record\x1eseparated\x1ffields\x00inside\n",
    ):
        done = run_cli("report", stdin=(first + report).encode())
        assert done.returncode == 0 and done.stderr == b"", (first, done.stderr)
        assert [r["requestId"] for r in _documents(done.stdout)] == ["r1"]
        enc = run_cli("encode", stdin=(first + report).encode())
        back = run_cli("decode", "--messages", stdin=enc.stdout)
        assert back.stdout == (first + report).encode()


# --------------------------------------------------------------------------- wrapped base64
def _wrapped(data: bytes, width: int, newline: str = "\n") -> bytes:
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + width] + newline for i in range(0, len(text), width)).encode()


def test_given_base64_wrapped_at_76_or_64_columns_then_one_payload():
    """``base64 object.gz`` (GNU, 76 columns) and ``openssl base64`` (64 columns), CRLF too."""
    docs = _docs(4)
    obj = b"".join(_members(docs[:3]))
    for width, newline in ((76, "\n"), (64, "\n"), (76, "\r\n")):
        stdin = (
            _wrapped(obj, width, newline)
            + base64.b64encode(_members(docs[3:])[0])
            + b"\n"  # a payload on one line after it
        )
        done = run_cli("decode", "--documents", stdin=stdin)
        assert done.stderr == b"" and done.returncode == 0, (width, done.stderr)
        assert _documents(done.stdout) == docs, width


def test_given_wrapped_base64_cut_short_then_one_truncation_error_naming_its_first_line():
    docs = _docs(3)
    wrapped = _wrapped(b"".join(_members(docs)), 76).splitlines(keepends=True)
    cut = b"".join(wrapped[:-2])
    expected, errors = _library(base64.b64decode(cut.replace(b"\n", b"")))
    assert expected == docs[:2] and len(errors) == 1  # the third member is cut off
    done = run_cli("decode", "--documents", stdin=cut)
    assert done.returncode == 1
    assert _documents(done.stdout) == expected
    err = done.stderr.decode().splitlines()
    assert len(err) == 1 and err[0].startswith("logstream: <stdin>: line 1: "), err
    assert "decompress: truncated" in err[0]


def test_given_empty_input_then_nothing_to_decode_and_exit_0(tmp_path):
    """An empty file (an S3 "folder" placeholder), stdin with nothing, or only a byte order
    mark: no input, not an error."""
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    bom = tmp_path / "bom"
    bom.write_bytes(b"\xff\xfe")
    done = run_cli("decode", str(empty), str(bom), "-", stdin=b"")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
