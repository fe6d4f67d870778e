#!/usr/bin/env python3
"""House statistics of the poolcheck workspace: the figures a reviewer asks for.

Usage: python3 ci/house_stats.py [--json]   (from the repository root)

For each crate of the workspace (pool-core, wire, mock-server, sim, benches and the
root package `poolcheck`) it prints:

- import cycles: strongly connected groups of the crate's top-level modules, where
  module A depends on module B when non-test code of A names `crate::B` (or `super::B`
  from a top-level module's file); `#[cfg(test)]` modules and `tests.rs` files are left
  out. A group of two or more modules is a cycle.
- files over 600 lines (every `.rs` file under the crate's `src/`);
- functions over 70 lines (body from the `fn` line to its closing brace, tests included);
- assertions per function: `assert!`-family and `debug_assert!`-family macro calls in
  non-test code, divided by the number of non-test functions;
- lines of non-test code in a default build: the lines of every source file that
  `cargo build` (default features, no tests) compiles for the crate's library and
  binaries, as listed in the dep-info files `cargo check` writes for them, minus the `#[cfg(test)]` modules
  inside them, minus items gated on a non-default feature such as `fuzzing` (a
  `#[cfg(feature = "...")]` line followed by an inline or file module). Blank lines and
  comments count: the figure is what a reader of a default build has to page through.

The parsing is lexical (comments and string literals are skipped; braces are matched), not
a Rust parser: it is exact for rustfmt-formatted code, which CI enforces.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

CRATES = {
    "pool-core": "pool-core",
    "wire": "wire",
    "mock-server": "mock-server",
    "sim": "sim",
    "benches": "benches",
    "poolcheck": ".",
}
FILE_LINES_MAX = 600
FN_LINES_MAX = 70
ASSERT_RE = re.compile(r"\b(debug_)?assert(_eq|_ne)?!")
FN_RE = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def strip(text):
    """The text with comments and string/char literal contents blanked (lines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:end]))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('"' + "".join(ch if ch == "\n" else " " for ch in text[i + 1:j]) + '"')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x[0-9a-fA-F]{2}'", text[i:i + 12]):
            m = re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x[0-9a-fA-F]{2}'", text[i:i + 12])
            out.append("' '" + " " * (len(m.group(0)) - 3))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(lines, start):
    """Index of the line closing the first `{` at or after line `start` (or None for `;`)."""
    depth, opened = 0, False
    for k in range(start, len(lines)):
        for ch in lines[k]:
            if ch == "{":
                depth, opened = depth + 1, True
            elif ch == "}":
                depth -= 1
                if opened and depth == 0:
                    return k
            elif ch == ";" and not opened and depth == 0:
                return None
    return None


def gated_ranges(lines, default_features):
    """Line ranges [a, b] of `#[cfg(test)]` and non-default-feature inline modules/items."""
    ranges = []
    for k, line in enumerate(lines):
        s = line.strip()
        gated = s.startswith("#[cfg(test)]")
        m = re.match(r'#\[cfg\(feature\s*=\s*"([^"]+)"\)\]', s)
        if m and m.group(1) not in default_features:
            gated = True
        if not gated:
            continue
        j = k + 1
        while j < len(lines) and lines[j].strip().startswith("#["):
            j += 1
        if j >= len(lines):
            continue
        end = block_end(lines, j)
        ranges.append((k, end if end is not None else j))
    return ranges


def in_ranges(k, ranges):
    return any(a <= k <= b for a, b in ranges)


def functions(lines, test_ranges):
    """(name, first line, length, in test code) of every fn with a body."""
    found = []
    for k, line in enumerate(lines):
        m = FN_RE.match(line)
        if not m:
            continue
        end = block_end(lines, k)
        if end is None:
            continue
        found.append((m.group(7), k + 1, end - k + 1, in_ranges(k, test_ranges)))
    return found


def module_deps(src, stripped_by_file):
    """Top-level module -> set of top-level modules its non-test code names."""
    deps = {}
    for path, text in stripped_by_file.items():
        lines = text.split("\n")
        tests = gated_ranges(lines, {"__all__"})
        tests = [r for r in tests if lines[r[0]].strip().startswith("#[cfg(test)]")]
        text = "\n".join(l for k, l in enumerate(lines) if not in_ranges(k, tests))
        rel = path.relative_to(src)
        parts = rel.with_suffix("").parts
        if parts[0] in ("bin", "main", "lib") or rel.name in ("main.rs", "lib.rs"):
            top = None if len(parts) == 1 else parts[0]
        else:
            top = parts[0]
        if top is None or top == "bin" or rel.name == "tests.rs" or "tests" in parts[:-1]:
            continue
        targets = set(re.findall(r"\bcrate::(\w+)", text))
        if len(parts) == 1 or (len(parts) == 2 and parts[1] == "mod"):
            targets |= set(re.findall(r"\bsuper::(\w+)", text))
        deps.setdefault(top, set()).update(t for t in targets if t != top)
    return deps


def cycles(deps):
    """Strongly connected components of two or more modules (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    nodes = set(deps) | {t for ts in deps.values() for t in ts}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in deps.get(v, ()):
            if w not in nodes:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def default_features(crate_dir):
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"], text=True))
    for pkg in meta["packages"]:
        if Path(pkg["manifest_path"]).parent.resolve() == Path(crate_dir).resolve():
            return set(pkg["features"].get("default", [])), pkg["name"]
    return set(), None


def build_sources(root, crate_dir):
    """Source files a default build of the crate compiles for its library and binaries,
    read from the dep-info files `cargo check` (same features, same sources, no code
    generation) writes beside them."""
    target = root / "target" / "house-stats"
    manifest = (crate_dir / "Cargo.toml").resolve()
    out = subprocess.run(
        ["cargo", "check", "--quiet", "--message-format=json", "--target-dir", str(target),
         "--manifest-path", str(manifest)],
        check=True, capture_output=True, text=True).stdout
    files = set()
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact":
            continue
        if Path(msg["manifest_path"]).resolve() != manifest:
            continue
        for f in msg["filenames"]:
            p = Path(f)
            if p.suffix in (".rlib", ".rmeta") and p.stem.startswith("lib"):
                dep = p.with_name(p.stem[3:] + ".d")
            else:
                dep = p.with_name(p.name + ".d")
            if not dep.exists():
                continue
            for entry in dep.read_text().splitlines():
                if ":" not in entry or entry.startswith("#"):
                    continue
                for f2 in entry.split(":", 1)[1].split():
                    q = Path(f2)
                    if q.suffix == ".rs":
                        files.add(q.resolve())
    src = (crate_dir / "src").resolve()
    return {f for f in files if str(f).startswith(str(src) + os.sep)}


def main():
    root = Path.cwd().resolve()
    report = {}
    for name, rel in CRATES.items():
        crate_dir = root / rel
        src = crate_dir / "src"
        features, _ = default_features(crate_dir)
        stripped = {p: strip(p.read_text()) for p in sorted(src.rglob("*.rs"))}
        long_files, long_fns, asserts, fns = [], [], 0, 0
        for p, text in stripped.items():
            lines = text.split("\n")
            raw_len = len(p.read_text().splitlines())
            if raw_len > FILE_LINES_MAX:
                long_files.append((str(p.relative_to(root)), raw_len))
            tests = [r for r in gated_ranges(lines, features | {"__all__"}) if lines[r[0]].strip().startswith("#[cfg(test)]")]
            test_file = p.name == "tests.rs" or "/tests/" in str(p)
            for fname, line, length, in_test in functions(lines, tests):
                if length > FN_LINES_MAX:
                    long_fns.append((f"{p.relative_to(root)}:{line} {fname}", length))
                if not in_test and not test_file:
                    fns += 1
            for k, line in enumerate(lines):
                if not in_ranges(k, tests) and not test_file:
                    asserts += len(ASSERT_RE.findall(line))
        compiled = 0
        files = build_sources(root, crate_dir)
        for f in files:
            text = strip(f.read_text())
            lines = text.split("\n")
            gated = gated_ranges(lines, features)
            compiled += sum(1 for k in range(len(f.read_text().splitlines())) if not in_ranges(k, gated))
        deps = module_deps(src, stripped)
        report[name] = {
            "import_cycles": cycles(deps),
            "files_over_600": sorted(long_files, key=lambda x: -x[1]),
            "functions_over_70": sorted(long_fns, key=lambda x: -x[1]),
            "asserts": asserts,
            "functions": fns,
            "asserts_per_function": round(asserts / fns, 3) if fns else 0.0,
            "default_build_lines": compiled,
        }
    if "--json" in sys.argv:
        print(json.dumps(report, indent=2))
        return
    print(f"{'crate':<12} {'cycles':>6} {'files>600':>9} {'fns>70':>6} {'asserts/fn':>10} {'default-build lines':>19}")
    for name, r in report.items():
        print(f"{name:<12} {len(r['import_cycles']):>6} {len(r['files_over_600']):>9} "
              f"{len(r['functions_over_70']):>6} {r['asserts_per_function']:>10} {r['default_build_lines']:>19}")
    for name, r in report.items():
        for c in r["import_cycles"]:
            print(f"cycle in {name}: {' <-> '.join(c)}")
        for f, n in r["files_over_600"]:
            print(f"long file: {f} ({n} lines)")
        for f, n in r["functions_over_70"]:
            print(f"long function: {f} ({n} lines)")


if __name__ == "__main__":
    main()
