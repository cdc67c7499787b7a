"""Read an XML landing file: records at ``file.xml.record``, values at paths below them.

``file.xml.record`` is the element path from the root to each record (``members/member``);
a column's ``source`` is a path below the record: a child element's text (``name/first``)
or an attribute (``@id``, ``name/@type``). Names match local names (namespaces are not part
of paths). Values are raw strings as written (no trimming): an empty element is ``""``, a
missing element or attribute, or ``xsi:nil="true"``, is NULL.

A record is *malformed* (``_corrupt_record`` holds the record re-serialised, every value
NULL, quarantined as ``_record:malformed``) when a configured element occurs more than once
or has child elements where a value is expected. Undeclared elements and attributes in a
record are not read; the reader warns with their count, never their names.

Parsed safely (DesignDoc, "Landing formats"): ``defusedxml``'s expat parser with any
``<!DOCTYPE>`` refused, hence no entity declarations (billion laughs, quadratic blowup), no
external entities or DTDs (XXE: nothing is read from disk or network); nesting deeper than
``file.xml.max_depth`` is refused as it starts; a record larger than ``MAX_RECORD_CHARS``
is refused. The file is streamed in chunks; only the current record is held in memory.
Whole-file problems reject the file (``unparseable_xml``, ``xml_forbidden_construct``,
``xml_too_deep``, ``xml_encoding_mismatch``, ``unexpected_xml_root``, ``empty_file``).
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from pyspark.sql import SparkSession

from lakehouse.config.models import ClientConfig
from lakehouse.landing.filenames import RejectReason
from lakehouse.landing.reader import HeaderReject, LandingRead
from lakehouse.landing.records import FileProblem, ParseStats, Record, read_records
from lakehouse.safe_files import open_regular

__all__ = ["XmlReject", "declared_encoding_problem", "parse_xml", "read_landing_xml"]

MAX_RECORD_CHARS = 64 * 1024 * 1024
_CHUNK_CHARS = 1024 * 1024
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_DECLARATION = re.compile(r"\A<\?xml\s[^>]*?\bencoding\s*=\s*([\"'])(?P<name>[^\"']*)\1")
# Without a declaration (or a BOM saying otherwise) an XML document is UTF-8.
_DEFAULT_OK = {"utf-8", "ascii", "utf-16", "utf-16-le", "utf-16-be"}


class XmlReject:
    UNPARSEABLE = "unparseable_xml"
    FORBIDDEN = "xml_forbidden_construct"
    TOO_DEEP = "xml_too_deep"
    ENCODING_MISMATCH = "xml_encoding_mismatch"
    UNEXPECTED_ROOT = "unexpected_xml_root"
    RECORD_TOO_LARGE = "record_too_large"


class _Malformed(ValueError):
    """The record is not of the declared shape."""


def _local(tag: str) -> str:
    return tag if tag[0] != "{" else tag.rsplit("}", 1)[-1]


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_encoding_problem(head: str, encoding: str) -> str | None:
    """Why the XML declaration at the start of ``head`` (the file's first characters,
    decoded in the client's ``encoding``) disagrees with ``encoding``; None if it agrees."""
    client = _codec(encoding) or encoding
    match = _DECLARATION.match(head)
    if match is None:
        if client in _DEFAULT_OK:
            return None
        return (
            f"the XML has no encoding declaration, so by the XML rules it is UTF-8, but the "
            f"client's file.encoding is {encoding}"
        )
    declared = match["name"]
    found = _codec(declared)
    same = found == client or (
        found is not None and found.startswith("utf-16") and client.startswith("utf-16")
    )
    if same or (client == "ascii" and found == "utf-8"):
        return None
    return (
        f"the XML declares encoding '{declared[:40]}' but the client's file.encoding is "
        f"{encoding}: one of them is wrong (the bytes were checked against file.encoding)"
    )


class _Target:
    """Parser target: tracks the element path, builds only the current record's tree."""

    def __init__(self, client: ClientConfig, done: list[Element]) -> None:
        assert client.file.xml is not None
        self.record = client.file.xml.steps
        self.max_depth = client.file.xml.max_depth
        self.done = done
        self.stack: list[str] = []
        self.builder: TreeBuilder | None = None
        self.size = 0
        self.roots = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.stack.append(_local(tag))
        depth = len(self.stack)
        if depth > self.max_depth:
            raise FileProblem(
                XmlReject.TOO_DEEP,
                f"elements nest deeper than file.xml.max_depth ({self.max_depth})",
            )
        if depth == 1 and self.stack[0] != self.record[0]:
            raise FileProblem(
                XmlReject.UNEXPECTED_ROOT,
                f"the root element is not <{self.record[0]}> (file.xml.record: "
                f"{'/'.join(self.record)})",
            )
        if self.builder is None and depth == len(self.record) and tuple(self.stack) == self.record:
            self.builder = TreeBuilder()
            self.size = 0
        if self.builder is not None:
            self._grow(len(tag) + sum(len(k) + len(v) for k, v in attrib.items()))
            self.builder.start(tag, attrib)

    def end(self, tag: str) -> None:
        if self.builder is not None:
            self.builder.end(tag)
            if len(self.stack) == len(self.record):
                self.done.append(self.builder.close())
                self.builder = None
        self.stack.pop()

    def data(self, text: str) -> None:
        if self.builder is not None:  # text outside records is never kept
            self._grow(len(text))
            self.builder.data(text)

    def close(self) -> None:
        return None

    def _grow(self, chars: int) -> None:
        self.size += chars
        if self.size > MAX_RECORD_CHARS:
            raise FileProblem(
                XmlReject.RECORD_TOO_LARGE, f"a record is larger than {MAX_RECORD_CHARS} characters"
            )


@dataclass(frozen=True)
class _Source:
    """A column's source: the element path below the record, its parents, the attribute."""

    element: str  # "" for the record element itself ("@id")
    parents: tuple[str, ...]
    attribute: str | None

    @classmethod
    def of(cls, source: str) -> _Source:
        steps = source.split("/")
        attribute = steps.pop()[1:] if steps[-1].startswith("@") else None
        paths = tuple("/".join(steps[: i + 1]) for i in range(len(steps)))
        return cls(element=paths[-1] if paths else "", parents=paths[:-1], attribute=attribute)


def _index(
    record: Element, declared: frozenset[str], attributes: frozenset[str], stats: ParseStats
) -> dict[str, list[Element]]:
    """The record's elements on declared paths, by path of local names; undeclared elements
    and attributes are counted (not descended into)."""
    found: dict[str, list[Element]] = {"": [record]}
    pending: list[tuple[str, Element]] = [("", record)]
    while pending:
        prefix, element = pending.pop()
        for key in element.attrib:
            path = f"{prefix}@{_local(key)}"
            if path not in attributes and key != _XSI_NIL:
                stats.undeclared(path)
        for child in element:
            path = prefix + _local(child.tag)
            if path in declared:
                found.setdefault(path, []).append(child)
                pending.append((path + "/", child))
            else:
                stats.undeclared(path)
    return found


def _attribute(element: Element, name: str) -> str | None:
    value = element.attrib.get(name)
    if value is not None or not any(k[0] == "{" for k in element.attrib):
        return value
    found = [v for k, v in element.attrib.items() if _local(k) == name]
    if len(found) > 1:
        raise _Malformed("attribute in two namespaces")
    return found[0] if found else None


def _value(found: dict[str, list[Element]], source: _Source) -> str | None:
    for parent in source.parents:
        if len(found.get(parent, ())) > 1:
            raise _Malformed("repeated element")
    elements = found.get(source.element)
    if not elements:
        return None
    if len(elements) > 1:
        raise _Malformed("repeated element")
    element = elements[0]
    if source.attribute is not None:
        return _attribute(element, source.attribute)
    if element.get(_XSI_NIL) in ("true", "1"):
        return None
    if len(element):
        raise _Malformed("child elements where a value is expected")
    return element.text or ""


def _paths(client: ClientConfig) -> tuple[frozenset[str], frozenset[str]]:
    """Declared element paths (with their parents) and attribute paths, relative to a record."""
    elements: set[str] = set()
    attributes: set[str] = set()
    for column in client.columns:
        source = _Source.of(column.header)
        if source.element:
            elements.update((*source.parents, source.element))
        if source.attribute is not None:
            prefix = f"{source.element}/" if source.element else ""
            attributes.add(f"{prefix}@{source.attribute}")
    return frozenset(elements), frozenset(attributes)


def _chunks(path: Path, encoding: str) -> Iterator[str]:
    if _codec(encoding) == "utf-8":
        encoding = "utf-8-sig"
    raw = os.fdopen(open_regular(path), "rb")  # never through a link
    with io.TextIOWrapper(raw, encoding=encoding, errors="strict") as text:
        while chunk := text.read(_CHUNK_CHARS):
            yield chunk


def parse_xml(path: Path, client: ClientConfig, stats: ParseStats) -> Iterator[Record]:
    """The records of an XML file, in document order (the executor side of the reader).

    The text is decoded in the client's ``encoding`` (after checking the declaration agrees)
    and fed to the parser as text, so the parser never picks an encoding of its own.

    Raises:
        FileProblem: see the module doc for the reasons.
    """
    done: list[Element] = []
    parser = DefusedXMLParser(
        target=_Target(client, done), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    sources = [_Source.of(c.header) for c in client.columns]
    declared, attributes = _paths(client)
    nulls: tuple[str | None, ...] = (None,) * len(sources)
    first, fed = True, False

    def parsed() -> Iterator[Record]:
        for record in done:
            found = _index(record, declared, attributes, stats)
            try:
                values = tuple(_value(found, s) for s in sources)
            except _Malformed:
                yield nulls, tostring(record, encoding="unicode")
                continue
            yield values, None
        done.clear()

    try:
        for chunk in _chunks(path, client.file.encoding):
            if first:
                first = False
                problem = declared_encoding_problem(chunk, client.file.encoding)
                if problem is not None:
                    raise FileProblem(XmlReject.ENCODING_MISMATCH, problem)
            fed = fed or bool(chunk.strip())
            parser.feed(chunk)
            yield from parsed()
        if not fed:
            raise FileProblem(HeaderReject.EMPTY, "file is empty (no XML)")
        parser.close()
        yield from parsed()
    except UnicodeDecodeError:
        raise FileProblem(RejectReason.BAD_ENCODING, f"not valid {client.file.encoding}") from None
    except DefusedXmlException:
        # Never the exception's text: it names the entity's target (a path, a URL).
        raise FileProblem(
            XmlReject.FORBIDDEN,
            "the XML has a DOCTYPE (DTDs, entity declarations and external references are "
            "refused: they can read files, reach the network or expand without bound)",
        ) from None
    except ParseError as exc:
        line, column = exc.position
        raise FileProblem(
            XmlReject.UNPARSEABLE, f"not well-formed XML (line {line}, column {column})"
        ) from None


def read_landing_xml(spark: SparkSession, path: Path, client: ClientConfig) -> LandingRead:
    """Parse an XML landing file into canonical raw string columns (see module doc).

    Raises:
        LandingFileError: with one of ``XmlReject``'s reasons, ``empty_file`` or
            ``invalid_encoding``.
    """
    return read_records(spark, path, client, parse_xml)
