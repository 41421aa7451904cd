"""YAML documents that remember where every value came from, and errors that say so.

Recipes, lab configs and campaign files are YAML written by people. Whatever they contain —
empty files, binary garbage, UTF-16, alias bombs, lists where maps belong, unknown keys — the
reader answers with ``DocumentError``: a list of ``Problem``s, each naming file, line, column and
field path. Nothing else escapes, so no traceback reaches a user.

Parsing is pure (text in, data and marks out); ``read_document`` is the one function that reads
a file.
"""

from __future__ import annotations

import difflib
import os
import re
import select
import stat
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = [
    "MAX_BYTES",
    "MAX_NODES",
    "Document",
    "DocumentError",
    "Location",
    "Problem",
    "parse_document",
    "read_bytes",
    "read_document",
    "validate_document",
]

MAX_BYTES = 1 << 20
MAX_NODES = 50_000
#: A pipe that delivers nothing for this long is given up on (a FIFO nobody writes to).
PIPE_WAIT_S = 5.0

Location = tuple[str | int, ...]
Severity = Literal["error", "warning"]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or worth a warning) in a document, at a place a person can find."""

    source: str
    line: int
    column: int
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}:{self.column}: "
        kind = "warning: " if self.severity == "warning" else ""
        field_path = f"{self.path}: " if self.path else ""
        return f"{where}{kind}{field_path}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.source, "line": self.line, "column": self.column,
            "field": self.path, "message": self.message, "severity": self.severity,
        }


class FieldProblemError(ValueError):
    """Raised by a model validator that checks several fields together, to place the problem
    at the field that has to change (``at``, relative to the model) instead of the document's
    first line, where pydantic puts every model-level error."""

    def __init__(self, at: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.at = at


class DocumentError(Exception):
    """A document that cannot be used; ``problems`` says every reason found, with places."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


@dataclass
class Document:
    """Plain data (dicts, lists, scalars) plus the line and column of every key and value."""

    source: str
    data: Any
    value_marks: dict[Location, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Location, tuple[int, int]] = field(default_factory=dict)
    #: the text parsed (what a run's journal keeps of a recipe or lab file)
    text: str = ""

    def locate(self, loc: Location) -> tuple[int, int, str, bool]:
        """Line, column and dotted field path of ``loc``; the flag says part of it is absent.

        Union tags pydantic puts in a location are skipped. Parts absent from the data (a
        missing field, or a field left at its default) are shown in the path and placed at the
        nearest enclosing value that is present.
        """
        node, path = self.data, ()
        absent: Location = ()
        for i, part in enumerate(loc):
            in_map = isinstance(node, dict) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            if in_map or in_list:
                node, path = node[part], (*path, part)
            elif isinstance(node, dict) and i < len(loc) - 1 and _is_tag(part, node):
                continue
            else:
                absent = tuple(loc[i:])
                break
        line, col = self.value_marks.get(path, (1, 1))
        return line, col, _dotted((*path, *absent)), bool(absent)

    def problem(self, loc: Location, message: str, severity: Severity = "error") -> Problem:
        """A problem placed at ``loc`` (the nearest enclosing value present in the data)."""
        line, col, shown, _ = self.locate(loc)
        return Problem(self.source, line, col, shown, message, severity)


def _is_tag(part: object, node: dict[Any, Any]) -> bool:
    """Whether ``part`` is a discriminated-union tag pydantic put in a location."""
    try:
        return part in node.values()
    except TypeError:
        return False


def _dotted(path: Location) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_document(path: str | Path) -> Document:
    """Read (once) and parse a YAML (or JSON) file; every failure is a ``DocumentError``.

    ``Document.text`` is the text read, so a caller that keeps it (a run's journal) keeps
    exactly what was validated, even when the file was a pipe that cannot be read again."""
    return parse_document(read_bytes(path), str(path))


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a regular file or a pipe, at most ``MAX_BYTES``; never blocks for long.

    A pipe (``cat r.yaml | mscrobot run /dev/stdin``, ``<(…)``, a named FIFO) is read as it
    arrives and refused once nothing has come for ``PIPE_WAIT_S`` (a FIFO nobody writes to);
    devices (``/dev/zero``, a terminal) and sockets are refused before they are opened."""
    source = str(path)

    def refuse(message: str) -> DocumentError:
        return DocumentError([Problem(source, 1, 1, "", message)])

    try:
        info = os.stat(path)
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            raise refuse("is a directory, not a file")
        if stat.S_ISFIFO(mode):
            content = _read_pipe(path, refuse)
        elif not stat.S_ISREG(mode):
            raise refuse(f"is {'a socket' if stat.S_ISSOCK(mode) else 'a device'}, not a file")
        else:
            if info.st_size > MAX_BYTES:
                raise refuse(f"file is {info.st_size} bytes; documents are at most "
                             f"{MAX_BYTES} bytes")
            with open(path, "rb") as f:
                content = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise refuse("no such file") from None
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror or exc}") from None
    if len(content) > MAX_BYTES:
        raise refuse(f"more than {MAX_BYTES} bytes; documents are at most {MAX_BYTES} bytes")
    return content


def _read_pipe(path: str | Path, refuse: Callable[[str], DocumentError]) -> bytes:
    """Read a pipe until its writer closes it; opened without blocking (a FIFO with no writer
    would block ``open``), and given up on after ``PIPE_WAIT_S`` with nothing new."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            if not poller.poll(PIPE_WAIT_S * 1000):
                raise refuse(f"is a pipe and nothing came through it for {PIPE_WAIT_S:g} s "
                             "(is anything writing to it?)")
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse_document(content: bytes | str, source: str = "<text>") -> Document:
    """Parse YAML text into plain data with marks; refuse what is not a safe, small document.

    PyYAML's C composer builds the node graph (every node knows its line and column); the graph
    is checked for tags and alias bombs, then turned into plain data here, so duplicate keys and
    merge keys are handled with their places known.
    """
    text = _decode(content, source)
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#")
                               for ln in text.splitlines()):
        raise DocumentError([Problem(source, 1, 1, "", "file is empty; expected a mapping of "
                                     "fields (key: value lines)")])
    import yaml

    original, text = text, _ESCAPED_PAIR.sub(_pair_to_char, text)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = " ".join(str(m).strip() for m in (exc.context, exc.problem) if m)
        lines = text.splitlines()
        if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line]:
            tab = lines[mark.line].index("\t")
            line, col = mark.line + 1, tab + 1
            message = ("a tab character: YAML indents with spaces only; replace the tab with "
                       "spaces")
        raise DocumentError([Problem(source, line, col, "", f"not valid YAML: {message}")]
                            ) from None
    except RecursionError:
        raise DocumentError([Problem(source, 1, 1, "", "nested too deeply")]) from None
    except Exception as exc:  # reader errors and the like on hostile input
        raise DocumentError([Problem(source, 1, 1, "", f"not valid YAML: {exc}".strip())]
                            ) from None
    _check_size(root, source)
    doc = Document(source, None, text=original)
    try:
        doc.data = _Builder(doc, yaml.constructor.SafeConstructor()).build(root, ())
    except RecursionError:
        raise DocumentError([Problem(source, 1, 1, "", "nested too deeply")]) from None
    return doc


def _decode(content: bytes | str, source: str) -> str:
    if isinstance(content, str):
        text = content
    else:
        if len(content) > MAX_BYTES:
            raise DocumentError([Problem(source, 1, 1, "", f"file is {len(content)} bytes; "
                                         f"documents are at most {MAX_BYTES} bytes")])
        if content.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise DocumentError([Problem(source, 1, 1, "", "file is UTF-16; save it as UTF-8")])
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = content[: exc.start].count(b"\n") + 1
            col = exc.start - (content.rfind(b"\n", 0, exc.start) + 1) + 1
            raise DocumentError([Problem(source, line, col, "", f"not UTF-8 text (byte "
                                         f"0x{content[exc.start]:02x}); save it as UTF-8")]
                                ) from None
    for i, line_text in enumerate(text.splitlines(), start=1):
        bad = re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", line_text)
        if bad:
            raise DocumentError([Problem(source, i, bad.start() + 1, "", "binary data: control "
                                         f"character 0x{ord(bad.group()):02x}; not a text file")])
    return text


_STANDARD_TAGS = tuple(f"tag:yaml.org,2002:{t}" for t in
                       ("str", "int", "float", "bool", "null", "seq", "map", "merge",
                        "timestamp"))


def _short_tag(tag: object) -> str:
    return str(tag).replace("tag:yaml.org,2002:", "!!")


def _check_size(node: Any, source: str) -> None:
    """Refuse alias bombs and recursive aliases before anything is expanded."""
    if node is None:
        return
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n: Any) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        tag = getattr(n, "tag", None)
        if tag and not str(tag).startswith(_STANDARD_TAGS):
            raise DocumentError([Problem(source, n.start_mark.line + 1, n.start_mark.column + 1,
                                         "", f"YAML tag {_short_tag(tag)!r} is not allowed "
                                         "here")])
        if key in active:
            raise DocumentError([Problem(source, n.start_mark.line + 1, n.start_mark.column + 1,
                                         "", "recursive alias: a value contains itself")])
        active.add(key)
        total = 1
        value = n.value
        if isinstance(value, list):
            for item in value:
                total += sum(size(x) for x in item) if isinstance(item, tuple) else size(item)
                if total > MAX_NODES:
                    break
        active.discard(key)
        if total > MAX_NODES:
            raise DocumentError([Problem(source, n.start_mark.line + 1, n.start_mark.column + 1,
                                         "", f"document expands to more than {MAX_NODES} values "
                                         "(aliases repeated too often?)")])
        sizes[key] = total
        return total

    size(node)


class _Builder:
    """Node graph → plain Python, recording the marks of every key and value."""

    def __init__(self, doc: Document, constructor: Any) -> None:
        self.doc, self.constructor = doc, constructor

    def _fail(self, node: Any, message: str, path: Location = ()) -> DocumentError:
        mark = node.start_mark
        return DocumentError([Problem(self.doc.source, mark.line + 1, mark.column + 1,
                                      _dotted(path), message)])

    def build(self, node: Any, path: Location) -> Any:
        if node is None:
            return None
        mark = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.doc.value_marks.setdefault(path, mark)
        kind = type(node).__name__
        if kind == "MappingNode":
            out: dict[Any, Any] = {}
            for key_node, value_node in self._pairs(node, path):
                key = self.build(key_node, ("<key>",))
                if key in out:
                    raise self._fail(key_node, f"not valid YAML: duplicate key {key!r}")
                child = (*path, key)
                self.doc.key_marks[child] = (key_node.start_mark.line + 1,
                                             key_node.start_mark.column + 1)
                self.doc.value_marks[child] = (value_node.start_mark.line + 1,
                                               value_node.start_mark.column + 1)
                out[key] = self.build(value_node, child)
            return out
        if kind == "SequenceNode":
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            value = self.constructor.construct_object(node, deep=True)
        except Exception as exc:  # a scalar the safe constructor cannot read
            raise self._fail(node, f"not valid YAML: {exc}") from None
        return _plain_scalar(value)

    def _pairs(self, node: Any, path: Location) -> list[tuple[Any, Any]]:
        """The mapping's own pairs, with ``<<`` merge keys expanded (explicit keys win).

        Every field name is a plain scalar, so a complex key (``? [a, b]``) is refused here,
        where it is first met: it could be neither compared nor named in an error."""
        own, merged = [], []
        for key_node, value_node in node.value:
            if type(key_node).__name__ != "ScalarNode":
                kind = "a list" if type(key_node).__name__ == "SequenceNode" else "a mapping"
                raise self._fail(key_node, f"a key must be a name, not {kind}", path)
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = value_node.value if type(value_node).__name__ == "SequenceNode" \
                    else [value_node]
                for src in sources:
                    if type(src).__name__ != "MappingNode":
                        raise self._fail(src, "not valid YAML: '<<' needs a mapping")
                    merged.extend(self._pairs(src, path))
            else:
                own.append((key_node, value_node))
        keys = {getattr(k, "value", None) for k, _ in own}
        return own + [(k, v) for k, v in merged if getattr(k, "value", None) not in keys]


_ESCAPED_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def _pair_to_char(match: re.Match[str]) -> str:
    """JSON writes characters beyond U+FFFF as escaped surrogate pairs, which libyaml refuses;
    write the character itself instead (same meaning inside a double-quoted scalar)."""
    high, low = int(match[1], 16), int(match[2], 16)
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def _join_surrogates(text: str) -> str:
    """JSON's escaped pairs (``\\ud83e\\uddea``) arrive as two half-characters; join them."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return text


def _plain_scalar(value: Any) -> Any:
    return _join_surrogates(value) if isinstance(value, str) else value


# --- pydantic errors → problems -------------------------------------------------------------

def validate_document(model: type[M], doc: Document) -> M:
    """Validate ``doc`` against ``model``; any failure becomes a ``DocumentError`` with places."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        problems = [_problem_from_error(model, doc, err) for err in exc.errors()]
        raise DocumentError(_dedupe(problems)) from None
    except RecursionError:
        raise DocumentError([Problem(doc.source, 1, 1, "", "nested too deeply")]) from None


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[int, int, str, str]] = set()
    out = []
    for p in problems:
        key = (p.line, p.column, p.path, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


_TYPE_WORDS = {
    "model_type": "a mapping of fields (key: value lines)",
    "model_attributes_type": "a mapping of fields (key: value lines)",
    "dict_type": "a mapping (key: value lines)",
    "list_type": "a list",
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


_BOUND_WORDS = {
    "greater_than": "must be more than",
    "greater_than_equal": "must be at least",
    "less_than": "must be less than",
    "less_than_equal": "must be at most",
    "too_short": "is too short; the least allowed length is",
    "too_long": "is too long; the most allowed length is",
}


def _problem_from_error(model: type[BaseModel], doc: Document, err: ErrorDetails) -> Problem:
    loc: Location = tuple(err["loc"])
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, FieldProblemError):
        loc = (*loc, *cause.at)
    line, col, shown, _ = doc.locate(loc) if loc else (1, 1, "", False)
    kind = err["type"]
    value = err.get("input")
    if kind == "missing":
        message = f"missing required field {loc[-1]!r}"
    elif kind == "extra_forbidden":
        name = str(loc[-1])
        if loc in doc.key_marks:
            line, col = doc.key_marks[loc]
        known = _field_names(model, loc[:-1])
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "known fields: " + ", ".join(known)
        message = f"unknown field {name!r}; {hint}"
    elif kind in _TYPE_WORDS:
        message = f"expected {_TYPE_WORDS[kind]}, got {_describe(value)}"
    elif kind in ("literal_error", "enum"):
        expected = str(err.get("ctx", {}).get("expected", ""))
        options = (re.findall(r"'([^']*)'", expected)
                   or [o for o in re.split(r",\s*|\s+or\s+", expected) if o])
        message = f"{_describe(value)} is not one of {', '.join(options)}"
        if isinstance(value, str):
            close = difflib.get_close_matches(value, options, n=1, cutoff=0.5)
            if close:
                message += f"; did you mean {close[0]!r}?"
    elif kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        options = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        message = f"{ctx.get('tag')!r} is not one of {', '.join(options)}"
    elif kind in _BOUND_WORDS:
        bound = next(iter(err.get("ctx", {}).values()), "?")
        message = f"{_describe(value)} {_BOUND_WORDS[kind]} {bound}"
    else:
        message = err["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
    return Problem(doc.source, line, col, shown, message)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field_names(model: type[BaseModel], loc: Location) -> list[str]:
    """Field names of the model(s) that sit at ``loc`` inside ``model``."""
    current: list[Any] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: list[Any] = []
        for m in _models_in(current):
            if part in m.model_fields:
                nxt.append(m.model_fields[part].annotation)
        if nxt:
            current = nxt
    names: list[str] = []
    for m in _models_in(current):
        names.extend(n for n in m.model_fields if n not in names)
    return names


def _models_in(annotations: list[Any]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    stack = list(annotations)
    while stack:
        a = stack.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            found.append(a)
        elif typing.get_origin(a) is not None or isinstance(a, types.UnionType):
            stack.extend(typing.get_args(a))
    return found
