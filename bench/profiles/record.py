"""``python -m bench.profiles.record NAME [--seconds S]``: a benchmark run under py-spy.

Runs benchmark ``NAME`` (``registration`` or ``rating_ingestion``) as ``python -m bench`` does,
and while its system is up, samples every Bancheng process (never the baseline's) with
``py-spy record --format raw`` (on-CPU samples only, the process not paused). For each
process it writes ``bench/profiles/<NAME>-<process>.svg`` (a flame graph: width is CPU time)
and prints the functions that took the most CPU, inclusive and self, so the next thing to
make cheaper can be read off the terminal too.

py-spy needs ptrace rights over the service processes (root, or ``kernel.yama.ptrace_scope``
0). It is in the ``bench`` extra of pyproject.toml.
"""

import argparse
import html
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from bench import harness

PROFILES = Path(__file__).resolve().parent
RATE = 97  # samples per second: off the beat of the services' own timers


@contextmanager
def _profiled(label: str, outputs: dict, **options):
    """:func:`bench.harness.running_system`, with py-spy on each Bancheng process inside."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with harness.running_system(label, **options) as system:
        recorders = []
        for process in system.processes:
            if process.name.startswith("baseline"):
                continue
            raw = Path(tempfile.mkstemp(prefix=f"py-spy-{process.name}-", suffix=".txt")[1])
            recorders.append(
                subprocess.Popen(
                    [py_spy, "record", "--nonblocking", "--format", "raw", "--rate", str(RATE)]
                    + ["--output", str(raw), "--pid", str(system.pid(process.name))],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            outputs[process.name] = raw
        try:
            yield system
        finally:
            for recorder in recorders:  # py-spy writes its file when interrupted
                recorder.send_signal(signal.SIGINT)
            for recorder in recorders:
                recorder.wait(timeout=60)


def read_stacks(path: Path) -> Counter:
    """Collapsed stacks (``frame;frame;... count``) as a Counter of frame tuples."""
    stacks: Counter = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` as ``func (module.py)``: a function, not a line."""
    name, _, where = frame.partition(" (")
    module = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(Path(module).parts[-2:])})" if module else name


def hot_functions(stacks: Counter, top: int = 25) -> tuple[list, list, int]:
    """The ``top`` functions by inclusive and by self samples, and the total samples."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    for stack, count in stacks.items():
        for frame in {_short(frame) for frame in stack}:
            inclusive[frame] += count
        own[_short(stack[-1])] += count
    return inclusive.most_common(top), own.most_common(top), sum(stacks.values())


def flame_graph_svg(stacks: Counter, title: str, width: int = 1600) -> str:
    """A flame graph of collapsed ``stacks`` (roots at the bottom; each box's width is its
    share of the samples; hover for the frame and its count)."""
    tree: dict = {}
    for stack, count in stacks.items():
        node = tree
        for frame in map(_short, stack):  # one box per function, not per line
            child = node.setdefault(frame, [0, {}])
            child[0] += count
            node = child[1]
    total = sum(stacks.values()) or 1
    row, depth_max, boxes = 16, [0], []

    def place(children: dict, x: float, depth: int):
        depth_max[0] = max(depth_max[0], depth)
        for frame, (count, grandchildren) in sorted(children.items()):
            w = count / total * width
            if w >= 0.3:
                boxes.append((x, depth, w, frame, count))
                place(grandchildren, x, depth + 1)
            x += w

    place(tree, 0.0, 0)
    height = (depth_max[0] + 3) * row
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace" font-size="11">',
        f'<text x="4" y="12">{html.escape(title)} — {total} samples at {RATE}/s</text>',
    ]
    for x, depth, w, frame, count in boxes:
        y = height - (depth + 1) * row
        hue = 20 + hash(frame.partition(" (")[2]) % 40
        label = html.escape(frame)
        share = f"{count} samples, {100 * count / total:.1f}%"
        text = label[: int(w / 6.6)] if w > 20 else ""
        parts.append(
            f'<g><title>{label} ({share})</title><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
            f'height="{row - 1}" fill="hsl({hue},85%,60%)"/>'
            + (f'<text x="{x + 2:.1f}" y="{y + 11}">{text}</text>' if text else "")
            + "</g>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiles.record")
    parser.add_argument("name", choices=("registration", "rating_ingestion"))
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--tag", default="", help="added to the SVG names (e.g. 'before')")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("BANCHENG_DEMO", "1")
    module = __import__(f"bench.{args.name}", fromlist=["run"])
    outputs: dict[str, Path] = {}

    @contextmanager
    def running_system(label, **options):
        with _profiled(label, outputs, **options) as system:
            yield system

    module.running_system = running_system  # the benchmark's own system, profiled
    rows = module.run()
    harness.print_table(rows)
    suffix = f"-{args.tag}" if args.tag else ""
    for process, raw in outputs.items():
        stacks = read_stacks(raw)
        raw.unlink()
        svg = PROFILES / f"{args.name}-{process}{suffix}.svg"
        svg.write_text(flame_graph_svg(stacks, f"{args.name}: {process}{suffix}"))
        inclusive, own, total = hot_functions(stacks, args.top)
        print(f"\n== {process}: {total} samples ({total / RATE:.1f} CPU s) -> {svg.name}")
        print("   inclusive:")
        for frame, count in inclusive:
            print(f"   {100 * count / max(total, 1):5.1f}%  {frame}")
        print("   self:")
        for frame, count in own:
            print(f"   {100 * count / max(total, 1):5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
