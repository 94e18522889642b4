"""YAML to positioned `Node`s, built from parser events: nothing is constructed but plain scalars.

The event stream (libyaml when available) is turned into nodes by an explicit stack, so deep
nesting cannot exhaust the C or Python stack; aliases share their target's children, and the
expanded size is capped so "billion laughs" documents fail fast instead of exploding later.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver

from ..diagnostics import Location
from ..textio import ReadError, read_text
from .tree import Node, mapping, scalar, sequence

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = Resolver()
_CONSTRUCTOR = SafeConstructor()
_T = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_T + name for name in ("null", "bool", "int", "float", "str")}
_MERGE = _T + "merge"
_STANDARD_TAGS = _PLAIN_TAGS | {"!", _MERGE} | {_T + name for name in ("map", "seq", "omap", "set", "pairs")}
MAX_NODES = 200_000
MAX_DEPTH = 200


@dataclass
class _Frame:
    """A mapping or sequence whose end event has not come yet."""

    event: yaml.Event
    items: list = field(default_factory=list)  # sequence items, or alternating key/value entries


@dataclass
class _Built:
    node: Node
    size: int  # nodes in the fully expanded value (aliases counted in full)
    key: str | None = None  # a scalar's text, used when it is a mapping key
    merge: bool = False  # a `<<` merge key


def load_yaml(path: Path, text: str | None = None) -> Node | None:
    """The first document of `path` as a `Node`; None if it is empty. Raises ReadError."""
    path = Path(path).absolute()
    if text is None:
        text = read_text(path)
    try:
        built = _Composer(path).compose(yaml.parse(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = f"invalid YAML: {exc.problem or exc.context}"
        if exc.problem and exc.context:
            reason += f" ({exc.context})"
        raise ReadError(reason, mark and mark.line + 1, mark and mark.column + 1) from None
    except ReaderError as exc:  # libyaml reports a byte offset: find the character instead
        bad = Reader.NON_PRINTABLE.search(text)
        line, column = _line_col(text, bad.start() if bad else exc.position)
        raise ReadError(f"invalid YAML: {exc.reason}", line, column) from None
    except yaml.YAMLError as exc:
        raise ReadError(f"invalid YAML: {exc}") from None
    if built is None or (not built.node.tag and built.node.value is None):
        return None
    return built.node


class _Composer:
    def __init__(self, path: Path):
        self.path = path
        self.anchors: dict[str, _Built] = {}
        self.total = 0

    def compose(self, events) -> _Built | None:
        stack: list[_Frame] = []
        for event in events:
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise ReadError(f"YAML nested deeper than {MAX_DEPTH} levels", *_start(event))
                stack.append(_Frame(event))
                continue
            if isinstance(event, yaml.ScalarEvent):
                built = self._scalar(event)
            elif isinstance(event, yaml.AliasEvent):
                built = self._alias(event)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                built = self._close(stack.pop(), event)
            else:
                continue
            if not stack:
                return built  # the first document's root: later documents are never parsed
            stack[-1].items.append(built)
        return None

    # -- nodes ---------------------------------------------------------------------------------
    def _count(self, size: int, event: yaml.Event) -> None:
        self.total += size
        if self.total > MAX_NODES:
            raise ReadError(f"YAML expands to more than {MAX_NODES} values (aliases included); skipped", *_start(event))

    def _register(self, event: yaml.Event, built: _Built) -> _Built:
        if event.anchor:
            self.anchors[event.anchor] = built
        if event.tag and event.tag not in _STANDARD_TAGS:
            built.node.meta["yaml_tag"] = event.tag
        return built

    def _scalar(self, event: yaml.ScalarEvent) -> _Built:
        self._count(1, event)
        tag = _resolve_tag(event)
        node = scalar(_scalar_value(tag, event.value), self._loc(event))
        return self._register(event, _Built(node, 1, event.value, tag == _MERGE))

    def _alias(self, event: yaml.AliasEvent) -> _Built:
        target = self.anchors.get(event.anchor)
        if target is None:
            raise ReadError(f"invalid YAML: unknown or recursive alias *{event.anchor}", *_start(event))
        self._count(target.size, event)
        node = target.node  # a new holder (own key_loc), sharing the anchored children
        holder = Node(node.value, node.loc, None, node.tag, dict(node.meta))
        return _Built(holder, target.size, target.key, target.merge)

    def _close(self, frame: _Frame, end: yaml.Event) -> _Built:
        self._count(1, frame.event)
        loc = self._loc(frame.event, end)
        if isinstance(frame.event, yaml.SequenceStartEvent):
            items = [b.node for b in frame.items]
            built = _Built(sequence(items, loc), 1 + sum(b.size for b in frame.items))
        else:
            built = _mapping(frame.items, loc)
        return self._register(frame.event, built)

    def _loc(self, start: yaml.Event, end: yaml.Event | None = None) -> Location:
        end = end or start
        return Location(
            self.path,
            start.start_mark.line + 1,
            start.start_mark.column + 1,
            end.end_mark.line + 1,
            end.end_mark.column + 1,
        )


def _mapping(items: list[_Built], loc: Location) -> _Built:
    """Pairs to a mapping: later duplicates win, `<<` merges give way to the mapping's own keys."""
    own: dict[str, Node] = {}
    merged: dict[str, Node] = {}
    size = 1
    for key, value in zip(items[0::2], items[1::2], strict=False):
        size += value.size
        if key.merge:
            for source in reversed(_merge_sources(value.node)):  # earlier sources win
                merged.update(source.value)
            continue
        value.node.key_loc = key.node.loc
        own[key.key if key.key is not None else str(key.node.plain())] = value.node
    return _Built(mapping({**merged, **own}, loc), size)


def _start(event: yaml.Event) -> tuple[int, int]:
    return event.start_mark.line + 1, event.start_mark.column + 1


def _resolve_tag(event: yaml.ScalarEvent) -> str:
    """The scalar's tag, as PyYAML's composer resolves it; unknown tags resolve like no tag."""
    if event.tag in (None, "!"):
        return _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
    if event.tag in _PLAIN_TAGS or event.tag == _MERGE:
        return event.tag
    return _RESOLVER.resolve(yaml.ScalarNode, event.value, (not event.style, False))


def _scalar_value(tag: str, text: str):
    """YAML 1.1 safe semantics for null, bool, int, float and str; other tags keep the text."""
    if tag not in _PLAIN_TAGS:
        return text
    try:
        return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, yaml.ScalarNode(tag, text))
    except (ValueError, KeyError, TypeError, OverflowError):
        return text


def _merge_sources(node: Node) -> list[Node]:
    if node.is_map:
        return [node]
    if node.is_seq:
        return [item for item in node.value if item.is_map]
    return []


def _line_col(text: str, index: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - start + 1


# -- comments ----------------------------------------------------------------------------------
def yaml_comments(text: str) -> dict[int, str]:
    """1-based line -> comment text (without `#`, stripped) for every real comment in `text`."""
    spans, valid_until = _scalar_spans(text)
    starts = [s for s, _ in spans]
    comments: dict[int, str] = {}
    line, counted, skip_to = 1, 0, 0
    for match in re.finditer(r"(?:^|(?<=[ \t\r\n]))#", text, re.M):
        i = match.start()
        if i < skip_to:
            continue  # a `#` inside a comment
        k = bisect.bisect_right(starts, i) - 1
        if k >= 0 and i < spans[k][1]:
            continue
        if i >= valid_until and _inside_quotes(text, i):
            continue
        end = text.find("\n", i)
        skip_to = len(text) if end < 0 else end
        line += text.count("\n", counted, i)
        counted = i
        comments[line] = text[i + 1:skip_to].strip()
    return comments


def _scalar_spans(text: str) -> tuple[list[tuple[int, int]], int]:
    """Character spans of scalar contents, and how far the scan got (to the end unless invalid)."""
    spans: list[tuple[int, int]] = []
    depth = 0
    try:
        for token in yaml.scan(text, Loader=_Loader):
            if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken)):
                depth += 1
                if depth > MAX_DEPTH:
                    return spans, token.start_mark.index
            elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)):
                depth -= 1
            elif isinstance(token, yaml.ScalarToken):
                start = token.start_mark.index
                if token.style in ("|", ">"):  # the header line may hold a comment
                    newline = text.find("\n", start)
                    start = token.end_mark.index if newline < 0 else min(newline + 1, token.end_mark.index)
                spans.append((start, token.end_mark.index))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return spans, mark.index if mark else 0
    except yaml.YAMLError:
        return spans, spans[-1][1] if spans else 0
    return spans, len(text)


def _inside_quotes(text: str, index: int) -> bool:
    """Past a YAML error: is `index` inside a quote opened earlier on its line? (best effort)"""
    quote = None
    for ch in text[text.rfind("\n", 0, index) + 1:index]:
        if quote is None and ch in "'\"":
            quote = ch
        elif ch == quote:
            quote = None
    return quote is not None
