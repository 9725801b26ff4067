"""One status table: errors.STATUSES is the enum of wasm_src/ngcodec.h (same
numbers, same names, same order), the module's ngc_error_name agrees, and
no other Python file of the package writes a status number."""

import re
from pathlib import Path

import ngcodec
from ngcodec import runtime
from ngcodec.errors import CODE, STATUSES

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pyhost" / "ngcodec"


def header_enum():
    text = (REPO / "wasm_src" / "ngcodec.h").read_text()
    body = re.search(r"typedef enum ngc_status \{(.*?)\}", text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return [(int(value), name) for name, value in re.findall(r"(NGC_\w+)\s*=\s*(-?\d+)", body)]


def test_header_enum_is_parsed():
    enum = header_enum()
    assert enum[0] == (0, "NGC_OK") and len(enum) >= 15


def test_python_table_is_the_header_enum():
    assert [(s.code, s.name) for s in STATUSES] == header_enum()


def test_every_status_has_an_exception_and_a_text():
    for s in STATUSES:
        assert issubclass(s.error, ngcodec.NgcodecError) and s.text
    assert CODE == {name: code for code, name in header_enum()}


def test_module_names_every_status_as_the_table():
    with runtime.session("names", decoding=False) as inst:
        for s in STATUSES:
            assert inst.error_name(s.code) == s.name
        assert inst.error_name(-999) == "NGC_ERR_UNKNOWN"
        assert inst.error_name(len(STATUSES)) == "NGC_ERR_UNKNOWN"


# A negative integer literal compared with, or listed beside, something: the
# shapes a status number takes in code (== -4, in (-3, -5), range(-11, -3)).
LITERAL = re.compile(r"(==|!=|<=|>=|<|>|\(|,|\[)\s*-\d+\b")


def test_no_status_number_outside_the_table():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if LITERAL.search(code) and "status" in line.lower():
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
            if re.search(r"\bNGC_ERR_\w+\b", code) and re.search(r"-\d+", code):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert offenders == []


def test_literal_finder_finds_one():
    # The check above must be able to fail: it catches the old style.
    assert LITERAL.search("if status == -4:")
    assert LITERAL.search("status in (-3, -5)")
