"""Line numbers for TOML key paths, so a schema error can say ``scenario.toml:12: links[1].latency``.

``tomllib`` parses but forgets positions; this scanner walks the same text once, following table
headers, arrays of tables and inline tables/arrays, and records the line on which each key path
(``hosts[0].name``) is written. It only needs to be right for files tomllib already accepted.
"""

from __future__ import annotations

import re

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def advance(self, n: int = 1) -> None:
        chunk = self.text[self.pos : self.pos + n]
        self.line += chunk.count("\n")
        self.pos += n

    def skip_space(self, newlines: bool) -> None:
        while self.pos < len(self.text):
            ch = self.peek()
            if ch == "#":
                end = self.text.find("\n", self.pos)
                self.advance((end if end >= 0 else len(self.text)) - self.pos)
            elif ch in " \t\r" or (newlines and ch == "\n"):
                self.advance()
            else:
                return

    def skip_string(self) -> str:
        quote = self.peek()
        triple = self.text.startswith(quote * 3, self.pos)
        delim = quote * 3 if triple else quote
        start = self.pos + len(delim)
        i = start
        while i < len(self.text):
            if quote == '"' and self.text[i] == "\\":
                i += 2
                continue
            if self.text.startswith(delim, i):
                break
            i += 1
        value = self.text[start:i]
        self.advance(i + len(delim) - self.pos)
        return value

    def read_key(self) -> list[str]:
        parts = []
        while True:
            self.skip_space(newlines=False)
            if self.peek() in "\"'":
                parts.append(self.skip_string())
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if not match:
                    return parts
                parts.append(match.group(0))
                self.advance(len(match.group(0)))
            self.skip_space(newlines=False)
            if self.peek() != ".":
                return parts
            self.advance()

    def note(self, path: str) -> None:
        self.lines.setdefault(path, self.line)


def _join(prefix: str, keys: list[str]) -> str:
    path = prefix
    for key in keys:
        path = f"{path}.{key}" if path else key
    return path


def _value(sc: _Scanner, path: str) -> None:
    sc.skip_space(newlines=True)
    ch = sc.peek()
    if ch in "\"'":
        sc.skip_string()
    elif ch == "[":
        sc.advance()
        index = 0
        while True:
            sc.skip_space(newlines=True)
            if sc.peek() in ("]", ""):
                sc.advance()
                return
            sc.note(f"{path}[{index}]")
            _value(sc, f"{path}[{index}]")
            index += 1
            sc.skip_space(newlines=True)
            if sc.peek() == ",":
                sc.advance()
    elif ch == "{":
        sc.advance()
        while True:
            sc.skip_space(newlines=True)
            if sc.peek() in ("}", ""):
                sc.advance()
                return
            keys = sc.read_key()
            key_path = _join(path, keys)
            sc.note(key_path)
            sc.skip_space(newlines=False)
            sc.advance()  # '='
            _value(sc, key_path)
            sc.skip_space(newlines=True)
            if sc.peek() == ",":
                sc.advance()
    else:
        while sc.pos < len(sc.text) and sc.peek() not in ",]}\n#":
            sc.advance()


def _header(sc: _Scanner) -> str:
    array = sc.text.startswith("[[", sc.pos)
    sc.advance(2 if array else 1)
    keys = sc.read_key()
    sc.skip_space(newlines=False)
    sc.advance(2 if array else 1)
    path = _join("", keys)
    if array:
        index = sc.counts.get(path, 0)
        sc.counts[path] = index + 1
        path = f"{path}[{index}]"
    sc.note(path)
    return path


def key_lines(text: str) -> dict[str, int]:
    """Map every key path written in ``text`` (``a.b[2].c``) to the line it is written on."""
    sc = _Scanner(text)
    table = ""
    while True:
        sc.skip_space(newlines=True)
        if sc.pos >= len(sc.text):
            return sc.lines
        if sc.peek() == "[":
            table = _header(sc)
            continue
        keys = sc.read_key()
        if not keys:
            sc.advance()
            continue
        path = _join(table, keys)
        sc.note(path)
        sc.skip_space(newlines=False)
        if sc.peek() == "=":
            sc.advance()
        _value(sc, path)


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path`` or of its nearest written ancestor (``a.b[1].c`` → ``a.b[1]`` → ``a.b``)."""
    probe = path
    while probe:
        if probe in lines:
            return lines[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return None
