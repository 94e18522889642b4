"""Read shell launch scripts without running them: variables, then the Python launches.

A pragmatic bash subset. Commands run top to bottom (branches and loops are read straight
through); a value the script cannot know (`$1`, `$(...)`, an unset environment variable) stays
unknown: `text` None, while `partial` keeps the rest, e.g. "${1}/pretrained_weights/x.pt".
Nothing here raises on odd input.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..diagnostics import Location

_Chunk = tuple[str, bool]  # (text, known); an unknown chunk holds its source text, e.g. "$1"

_NAME = re.compile(r"[A-Za-z_]\w*")
_ASSIGN = re.compile(r"([A-Za-z_]\w*)(\+?)=")
_BRACE_NAME = re.compile(r"[A-Za-z_]\w*|\d+|[@*#?$!-]")
_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'?", re.S)
_BACKTICK = re.compile(r"`(?:[^`\\]|\\.)*`?", re.S)
_BLANKS = " \t\r"
_META = ";&|()<>"
_SEPARATORS = {";", "&", "&&", "||", "|", "|&", "\n", "(", ")", ";;", ";&", ";;&"}
_REDIRECTS = {"<", ">", ">>", ">&", "<&", "&>", "&>>", ">|", "<>", "<<", "<<-", "<<<"}
_OPERATORS = sorted(_SEPARATORS | _REDIRECTS, key=len, reverse=True)
_PARAM_OPS = (":-", ":=", ":+", ":?", "-", "=", "+", "?")
_ANSI = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "e": "\x1b", "0": "\0"}

_RESERVED = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time", "esac"}
_SKIPPED = {"for", "select", "case", "function", "[[", "[", "test", "let"}
_DECLARE = {"export", "declare", "typeset", "local", "readonly"}
_BUILTINS = {"echo", "printf", "cd", "pushd", "popd", "set", "shift", "exit", "return", "source", ".",
             "eval", "trap", "wait", "true", "false", ":", "alias", "shopt", "ulimit", "umask", "unset", "read"}
_WRAPPERS = {"nohup", "exec", "env", "sudo", "nice", "timeout", "stdbuf", "taskset", "numactl", "srun",
             "mpirun", "mpiexec", "xvfb-run", "command", "uv", "poetry", "pipenv", "conda", "pdm", "hatch"}
_PYTHON = re.compile(r"python(\d+(\.\d+)*)?w?")
_LAUNCHERS = {"torchrun", "deepspeed", "accelerate"}
_LAUNCH_MODULES = {"torch.distributed.launch", "torch.distributed.run", "accelerate.commands.launch",
                   "deepspeed.launcher.runner"}
_FLAG_ONLY = {"--standalone", "--no_python", "--no-python", "--use_env", "--use-env", "--run_path",
              "--run-path", "--cpu", "--multi_gpu", "--tpu", "--use_deepspeed", "--use_fsdp",
              "--use_megatron_lm", "--use_xpu", "--debug", "-q", "--quiet", "--no_local_rank",
              "--force_multi", "--save_pid", "--bind_cores_to_rank", "--elastic_training", "--no_ssh"}
MAX_NESTING = 50


@dataclass
class ShellArg:
    text: str | None  # None: unknown ($1, $(...), an unset variable)
    raw: str  # the word as written, quotes included
    loc: Location
    partial: str = ""  # the value with unknown pieces kept as written


@dataclass
class Invocation:
    program: str  # "python3", "torchrun", "accelerate", "deepspeed", or any other command name
    script: str | None  # the .py path after expansion; None if unknown or not a script launch
    module: str | None  # for `python -m pkg.mod` (launcher modules are skipped over)
    args: list[ShellArg]  # the script's own arguments
    loc: Location  # the whole command
    script_arg: ShellArg | None = None  # the word naming the script or module


@dataclass
class ShellFacts:
    assignments: dict[str, tuple[str | None, Location]]
    invocations: list[Invocation]
    comments: dict[int, str]


def read_shell(path: Path, text: str) -> ShellFacts:
    path = Path(path).absolute()
    lexer = _Lexer(text)
    tokens = lexer.tokens()
    facts = ShellFacts({}, [], lexer.comments)
    _Runner(path, lexer, facts).run(tokens)
    return facts


def parse_flags(args: list[ShellArg]) -> dict[str, list[tuple[str | None, Location]]]:
    """`--flag=value`, `--flag value` (unless the next word starts with `--`) and bare `--flag` (None)."""
    flags: dict[str, list[tuple[str | None, Location]]] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        text = arg.text if arg.text is not None else arg.partial
        if not text.startswith("-") or text in ("-", "--"):
            continue
        name, eq, value = text.partition("=")
        if eq and text.startswith("--"):  # an unknown value stays None, at the value's position
            flags.setdefault(name, []).append((value if arg.text is not None else None, _value_loc(arg, name)))
        elif arg.text is None:
            continue
        elif i < len(args) and not args[i].partial.startswith("--"):
            flags.setdefault(text, []).append((args[i].text, args[i].loc))
            i += 1
        else:
            flags.setdefault(text, []).append((None, arg.loc))
    return flags


def _value_loc(arg: ShellArg, name: str) -> Location:
    """Where the value of `--name=value` starts, when the word spells the name literally."""
    loc = arg.loc
    if not arg.raw.startswith(name + "="):
        return loc
    return Location(loc.path, loc.line, loc.column + len(name) + 1, loc.end_line, loc.end_column)


# -- lexing -------------------------------------------------------------------------------------
@dataclass
class _Part:
    kind: str  # "lit", "var" or "unknown"
    text: str  # literal text, or variable name
    quoted: bool
    raw: str = ""  # source text (variables and unknown pieces)
    op: str = ""  # parameter operator of ${name<op>word}
    word: list[_Part] = field(default_factory=list)


@dataclass
class _Word:
    parts: list[_Part]
    start: int
    end: int
    raw: str


@dataclass
class _Op:
    op: str
    start: int


class _Lexer:
    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.depth = 0
        self.comments: dict[int, str] = {}
        self.lines = [0] + [m.end() for m in re.finditer("\n", text)]

    def point(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.lines, index)
        return line, index - self.lines[line - 1] + 1

    def tokens(self) -> list[_Word | _Op]:
        text, out = self.text, []
        heredocs: list[tuple[str, bool]] = []  # (delimiter, strip tabs) waiting for the line end
        while self.i < len(text):
            ch = text[self.i]
            if ch in _BLANKS:
                self.i += 1
            elif text.startswith("\\\n", self.i) or text.startswith("\\\r\n", self.i):
                self.i = text.index("\n", self.i) + 1
            elif ch == "#":
                end = self._line_end(self.i)
                self.comments[self.point(self.i)[0]] = text[self.i + 1:end].strip()
                self.i = end
            elif ch == "\n":
                out.append(_Op("\n", self.i))
                self.i += 1
                for delimiter, strip in heredocs:
                    self._skip_heredoc(delimiter, strip)
                heredocs.clear()
            elif ch in _META:
                op = next(o for o in _OPERATORS if text.startswith(o, self.i))
                out.append(_Op(op, self.i))
                self.i += len(op)
            else:
                out.append(self._word())
                if len(out) > 1 and isinstance(out[-2], _Op) and out[-2].op in ("<<", "<<-"):
                    heredocs.append((re.sub(r"[\\'\"]", "", out[-1].raw), out[-2].op == "<<-"))
        return out

    def _line_end(self, i: int) -> int:
        end = self.text.find("\n", i)
        return len(self.text) if end < 0 else end

    def _skip_heredoc(self, delimiter: str, strip_tabs: bool) -> None:
        while self.i < len(self.text):
            end = self._line_end(self.i)
            line = self.text[self.i:end].rstrip("\r")
            self.i = end + 1
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                return

    def _word(self) -> _Word:
        start = self.i
        parts = self._scan(len(self.text), word=True, quoted=False)
        return _Word(parts, start, self.i, self.text[start:self.i])

    def _scan(self, end: int, *, word: bool, quoted: bool) -> list[_Part]:
        """Parts up to `end` (or, for a word, the first unquoted blank or operator)."""
        text, parts, lit = self.text, [], []

        def flush():
            if lit:
                parts.append(_Part("lit", "".join(lit), quoted))
                lit.clear()

        while self.i < end:
            ch = text[self.i]
            if word and (ch in _META or ch in _BLANKS or ch == "\n"):
                if ch == "(" and not parts and _ASSIGN.fullmatch("".join(lit)):  # NAME=(array)
                    flush()
                    parts.append(self._unknown(self.i, self._close_paren(self.i, end)))
                    continue
                break
            if ch == "\\":
                flush()
                self._backslash(end, parts)
            elif ch == "'" and not quoted:
                flush()
                close = text.find("'", self.i + 1, end)
                close = end if close < 0 else close
                parts.append(_Part("lit", text[self.i + 1:close], True))
                self.i = min(close + 1, end)
            elif ch == '"' and not quoted:
                flush()
                self.i += 1
                parts.extend(self._double_quoted(end))
            elif ch == "$" or ch == "`":
                flush()
                parts.extend(self._dollar(end, quoted) if ch == "$" else [self._backtick(end)])
            else:
                lit.append(ch)
                self.i += 1
        flush()
        return parts

    def _backslash(self, end: int, parts: list[_Part]) -> None:
        nxt = self.text[self.i + 1:self.i + 2] if self.i + 1 < end else ""
        if nxt == "\n":
            self.i += 2
        elif nxt == "\r" and self.text.startswith("\n", self.i + 2):
            self.i += 3
        else:
            parts.append(_Part("lit", nxt or "\\", True))
            self.i += 1 + len(nxt)

    def _double_quoted(self, end: int) -> list[_Part]:
        text, parts, lit = self.text, [], []
        while self.i < end and text[self.i] != '"':
            ch = text[self.i]
            if ch == "\\" and text[self.i + 1:self.i + 2] in ("$", "`", '"', "\\", "\n"):
                if text[self.i + 1] != "\n":
                    lit.append(text[self.i + 1])
                self.i += 2
            elif ch in "$`":
                if lit:
                    parts.append(_Part("lit", "".join(lit), True))
                    lit.clear()
                parts.extend(self._dollar(end, True) if ch == "$" else [self._backtick(end)])
            else:
                lit.append(ch)
                self.i += 1
        self.i = min(self.i + 1, end)
        if lit or not parts:
            parts.append(_Part("lit", "".join(lit), True))
        return parts

    def _dollar(self, end: int, quoted: bool) -> list[_Part]:
        text, start = self.text, self.i
        nxt = text[start + 1:start + 2] if start + 1 < end else ""
        if nxt == "(":
            return [self._unknown(start, self._close_paren(start + 1, end))]
        if nxt == "{":
            return [self._brace(start, end, quoted)]
        if nxt == "'" and not quoted:
            return [self._ansi_c(end)]
        if nxt == '"' and not quoted:
            self.i += 2
            return self._double_quoted(end)
        match = _NAME.match(text, start + 1, end)
        if match:
            self.i = match.end()
            return [_Part("var", match.group(), quoted, text[start:self.i])]
        if nxt and (nxt.isdigit() or nxt in "@*#?$!-"):
            self.i = start + 2
            return [_Part("var", nxt, quoted, text[start:self.i])]
        self.i = start + 1
        return [_Part("lit", "$", quoted)]

    def _brace(self, start: int, end: int, quoted: bool) -> _Part:
        """${...}: a variable, maybe with a default/alternative word; anything fancier is unknown."""
        close = self._close_brace(start + 1, end)
        inner_start, inner_end = start + 2, close - 1
        inner = self.text[inner_start:inner_end]
        raw = self.text[start:close]
        match = _BRACE_NAME.match(inner)
        unterminated = self.text[close - 1:close] != "}"
        if unterminated or not match or (inner[0] in "#!" and len(inner) > 1) or self.depth >= MAX_NESTING:
            return self._unknown(start, close)
        rest = inner[match.end():]
        if not rest:
            self.i = close
            return _Part("var", match.group(), quoted, raw)
        op = next((o for o in _PARAM_OPS if rest.startswith(o)), None)
        if op is None:  # ${x%suffix}, ${x/a/b}, ${x:1:2}, ${a[0]} ...
            return self._unknown(start, close)
        self.i = inner_start + match.end() + len(op)
        self.depth += 1
        word = self._scan(inner_end, word=False, quoted=quoted)
        self.depth -= 1
        self.i = close
        return _Part("var", match.group(), quoted, raw, op, word)

    def _ansi_c(self, end: int) -> _Part:
        match = _ANSI_C.match(self.text, self.i, end)
        self.i = match.end()
        value = re.sub(r"\\(.)", lambda m: _ANSI.get(m.group(1), m.group(0)), match.group(1), flags=re.S)
        return _Part("lit", value, True)

    def _backtick(self, end: int) -> _Part:
        match = _BACKTICK.match(self.text, self.i, end)
        return self._unknown(self.i, match.end())

    def _unknown(self, start: int, stop: int) -> _Part:
        self.i = stop
        return _Part("unknown", "", False, self.text[start:stop])

    def _close_paren(self, i: int, end: int) -> int:
        return self._close(i, end, "(", ")")

    def _close_brace(self, i: int, end: int) -> int:
        return self._close(i, end, "{", "}")

    def _close(self, i: int, end: int, opener: str, closer: str) -> int:
        """Index just past the `closer` matching the `opener` at `i` (quotes respected)."""
        text, depth, quote = self.text, 0, ""
        while i < end:
            ch = text[i]
            if ch == "\\" and quote != "'":
                i += 2
                continue
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == opener:
                depth += 1
            elif ch == closer:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return end


# -- running ------------------------------------------------------------------------------------
class _Runner:
    def __init__(self, path: Path, lexer: _Lexer, facts: ShellFacts):
        self.path = path
        self.lexer = lexer
        self.facts = facts
        self.env: dict[str, list[_Chunk]] = {}
        self.depth = 0  # inside if/case/loops: an assignment there may or may not happen

    def run(self, tokens: list[_Word | _Op]) -> None:
        words: list[_Word] = []
        skip_next = False
        for k, token in enumerate(tokens):
            if isinstance(token, _Word):
                if not skip_next:
                    words.append(token)
                skip_next = False
            elif token.op in _REDIRECTS:
                if words and words[-1].end == token.start and words[-1].raw.isdigit():
                    words.pop()  # the fd of `2>&1`
                skip_next = True
            else:
                following = tokens[k + 1] if k + 1 < len(tokens) else None
                if token.op == "(" and len(words) == 1 and isinstance(following, _Op) and following.op == ")":
                    words = []  # `name()` starts a function definition
                self._command(words)
                words = []
        self._command(words)

    # -- commands ------------------------------------------------------------------------------
    def _command(self, words: list[_Word]) -> None:
        while words and _literal(words[0]) in _RESERVED:
            self._nest(_literal(words[0]))
            words = words[1:]
        if words and _literal(words[0]) in ("for", "select", "case"):
            self.depth += 1
        if not words:
            return
        first = _literal(words[0])
        if first in _SKIPPED:
            if first in ("for", "select") and len(words) > 1 and _literal(words[1]):
                self._forget(_literal(words[1]))
            return
        assigns = []
        while words and _assignment(words[0]):
            assigns.append(words[0])
            words = words[1:]
        name = _literal(words[0]) if words else None
        if not words:  # plain assignments; as a prefix (`CUDA_VISIBLE_DEVICES=0 python`) they do not persist
            for word in assigns:
                self._assign(word)
        elif name in _DECLARE:
            for word in words[1:]:
                if _assignment(word):
                    self._assign(word)
        elif name in ("unset", "read"):
            for var in filter(None, map(_literal, words[1:])):
                if name == "unset":
                    self.env.pop(var, None)
                elif _NAME.fullmatch(var):
                    self._forget(var)
        elif name not in _BUILTINS:
            start = (assigns or words)[0]
            self._invocation(self._expand_words(words), self._loc(start.start, words[-1].end))

    def _nest(self, word: str) -> None:
        if word in ("if", "while", "until"):
            self.depth += 1
        elif word in ("fi", "done", "esac") and self.depth:
            self.depth -= 1

    def _forget(self, name: str) -> None:
        """`name` now holds a value the script cannot know."""
        self.env[name] = [(f"${name}", False)]

    def _assign(self, word: _Word) -> None:
        first = word.parts[0]
        match = _ASSIGN.match(first.text)
        name, append = match.group(1), match.group(2)
        rest = first.text[match.end():]
        parts = ([_Part("lit", rest, False)] if rest else []) + word.parts[1:]
        value = self._joined(parts)
        if append:
            value = self.env.get(name, []) + value
        if self.depth:  # conditional: never guess which branch ran
            self._forget(name)
            self.facts.assignments[name] = (None, self._loc(word.start, word.end))
            return
        self.env[name] = value
        text = _text(value)
        self.facts.assignments[name] = (text, self._loc(word.start, word.end))

    # -- expansion -----------------------------------------------------------------------------
    def _joined(self, parts: list[_Part]) -> list[_Chunk]:
        """Expansion without word splitting (assignment values, default words)."""
        chunks: list[_Chunk] = []
        for part in parts:
            if part.kind == "lit":
                chunks.append((part.text, True))
            elif part.kind == "unknown":
                chunks.append((part.raw, False))
            else:
                chunks.extend(self._variable(part))
        return chunks

    def _variable(self, part: _Part) -> list[_Chunk]:
        value = self.env.get(part.text)
        text = None if value is None else _text(value)
        if not part.op:
            return value if value is not None else [(part.raw, False)]
        colon, kind = part.op.startswith(":"), part.op[-1]
        if kind in "-=":
            if value is None or text is None or (colon and text == ""):
                value = self._joined(part.word)
                if kind == "=" and _NAME.fullmatch(part.text):
                    self.env[part.text] = value
            return value
        if kind == "+":
            if value is None or (colon and text == ""):
                return []
            return self._joined(part.word) if text is not None else [(part.raw, False)]
        return value if text is not None else [(part.raw, False)]  # `?`

    def _fields(self, parts: list[_Part]) -> list[list[_Chunk]]:
        """Expansion with word splitting of unquoted variables (IFS = blanks)."""
        fields: list[list[_Chunk]] = []
        current: list[_Chunk] = []
        started = False
        for part in parts:
            if part.kind != "var" or part.quoted:
                current.extend(self._joined([part]))
                started = True
                continue
            for text, known in self._variable(part):
                if not known:
                    current.append((text, False))
                    started = True
                    continue
                for k, piece in enumerate(re.split(r"[ \t\n]+", text)):
                    if k and started:
                        fields.append(current)
                        current, started = [], False
                    if piece:
                        current.append((piece, True))
                        started = True
        if started:
            fields.append(current)
        return fields

    def _expand_words(self, words: list[_Word]) -> list[ShellArg]:
        args = []
        for word in words:
            loc = self._loc(word.start, word.end)
            for chunks in self._fields(word.parts):
                args.append(ShellArg(_text(chunks), word.raw, loc, "".join(t for t, _ in chunks)))
        return args

    # -- launches ------------------------------------------------------------------------------
    def _invocation(self, args: list[ShellArg], loc: Location) -> None:
        if not args:
            return
        start = 0
        if _program(args[0]) in _WRAPPERS:
            start = next((i for i, a in enumerate(args) if _launcher(a)), 0)
        program, rest = _program(args[start]), args[start + 1:]
        target = _Target(None, None, False, rest)
        if _PYTHON.fullmatch(program):
            target = _python(rest)
        elif program in ("torchrun", "deepspeed"):
            target = _launch(rest)
        elif program == "accelerate" and rest and rest[0].text == "launch":
            target = _launch(rest[1:])
        self.facts.invocations.append(Invocation(
            program,
            None if target.module else target.name,
            target.name if target.module else None,
            target.args,
            loc,
            target.arg,
        ))

    def _loc(self, start: int, end: int) -> Location:
        line, column = self.lexer.point(start)
        end_line, end_column = self.lexer.point(end)
        return Location(self.path, line, column, end_line, end_column)


def _literal(word: _Word) -> str | None:
    """The word's text if it is plain unquoted literal text."""
    if len(word.parts) == 1 and word.parts[0].kind == "lit" and not word.parts[0].quoted:
        return word.parts[0].text
    return None


def _assignment(word: _Word) -> bool:
    first = word.parts[0] if word.parts else None
    return bool(first and first.kind == "lit" and not first.quoted and _ASSIGN.match(first.text))


def _text(chunks: list[_Chunk]) -> str | None:
    return "".join(t for t, _ in chunks) if all(k for _, k in chunks) else None


def _program(arg: ShellArg) -> str:
    return (arg.text if arg.text is not None else arg.partial).rsplit("/", 1)[-1]


def _launcher(arg: ShellArg) -> bool:
    name = _program(arg)
    return bool(_PYTHON.fullmatch(name)) or name in _LAUNCHERS


class _Target(NamedTuple):
    arg: ShellArg | None  # the word naming the script or module
    name: str | None
    module: bool
    args: list[ShellArg]


def _python(rest: list[ShellArg]) -> _Target:
    """`python [options] script.py args` / `python -m module args` / `python -c code`."""
    i = 0
    while i < len(rest):
        text = rest[i].text
        if not text or not text.startswith("-") or text == "-":
            break
        i += 1
        if text == "--":
            break
        if text.startswith("--"):
            i += text == "--check-hash-based-pycs"
            continue
        at = next((k for k, flag in enumerate(text[1:], 1) if flag in "cmWX"), None)
        if at is None:
            continue
        attached = text[at + 1:]
        value = rest[i - 1] if attached else (rest[i] if i < len(rest) else None)
        i += 0 if attached else 1
        if text[at] == "c":
            return _Target(None, None, False, rest[i:])
        if text[at] == "m":
            module = attached or (value.text if value else None)
            if module in _LAUNCH_MODULES:
                return _launch(rest[i:])
            return _Target(value, module, True, rest[i:])
    if i < len(rest) and rest[i].text == "-":  # the program comes from stdin
        return _Target(rest[i], None, False, rest[i + 1:])
    return _target(rest[i:], module=False)


def _launch(rest: list[ShellArg]) -> _Target:
    """Skip a launcher's own options (torchrun, deepspeed, accelerate launch, -m torch.distributed.launch)."""
    i, module = 0, False
    while i < len(rest):
        text = rest[i].text if rest[i].text is not None else rest[i].partial
        if text in ("-m", "--module"):
            module = True
        elif text == "--":
            i += 1
            break
        elif not text.startswith("-") or text == "-":
            break
        elif "=" not in text and text not in _FLAG_ONLY and i + 1 < len(rest) and _option_value(rest[i + 1]):
            i += 1
        i += 1
    return _target(rest[i:], module)


def _option_value(arg: ShellArg) -> bool:
    return not arg.partial.startswith("-") and not arg.partial.endswith(".py")


def _target(rest: list[ShellArg], module: bool) -> _Target:
    """The first positional word is the script (or module); unknown words before a visible
    `.py` word are taken for options hidden in a variable (`torchrun $DIST_ARGS train.py`)."""
    for i, arg in enumerate(rest):
        hidden_options = arg.text is None and not arg.partial.endswith(".py")
        if hidden_options and any(a.partial.endswith(".py") for a in rest[i + 1:]):
            continue
        return _Target(arg, arg.text, module, rest[i + 1:])
    return _Target(None, None, module, [])
