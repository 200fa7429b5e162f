"""Benchmark: maild's report parser side by side with Sisimai 4.25 and flufl.bounce, in-process, whole-process and start-up.

Three measures, rounds interleaved so a busy machine slows every side alike:

1. in-process: messages per second of `maild.reports.parse` over the whole corpus, next to flufl.bounce's
   scan_message alone and Sisimai 4.25 (one perl process per round, start-up included);
2. whole process, start-up included: `maild parse --json FILES` (one command) against one `perl` process
   calling `Sisimai->make` per file, over Sisimai's set-of-emails messages of the corpus; maild twice, with
   its default (one parse child per usable CPU for this many files) and with `--jobs 1` (one parse child,
   one core, as Sisimai's perl), each as wall time and as CPU time of the command and its children;
3. start-up: the median wall time of `maild parse`, `ingest`, `status`, `events` and `queue list` on one
   input each (a fresh temporary configuration and database), each run as `python -m maild` and through the
   installed `maild` console script (what users and Postfix's pipe(8) run), next to `python -c pass`; the
   report says how maild is installed, since setuptools' editable finder (plain `pip install -e .`) adds
   about 25 ms to every Python start here, `python -c pass` included (scripts/test uses compat mode).

Each figure is printed against the issue's target (met / not met): start-up median <= 60 ms for every command,
the whole process >= 2x Sisimai, in-process >= 3,000 msg/s. Before timing, maild's bytecode is compiled
(`compileall`), as an installed package has it: with PYTHONDONTWRITEBYTECODE set and no __pycache__, every
start would compile maild's sources again and the start-up figures would measure that.

Sisimai is measured when Debian's libsisimai-perl is installed. With `--against DIR` (another checkout with its
own venv, DIR/.venv, e.g. main's), its console script runs each start-up command too, interleaved with ours
on the same configuration and database, and each command's median is given as a ratio of that checkout's; its
`maild parse --json FILES` runs in the whole-process rounds too. With `--also-venv DIR` (a venv holding this same
checkout under another interpreter, e.g. `/usr/bin/python3.11 -m venv DIR` for Debian's own build), every measure
runs under that interpreter too, in the same rounds: the interpreter's build is part of the figures. Each maild's whole process is run once untimed
first, so that it has its kept regexes (maild.core.recache) as every later run of an install has them.
Usage: python bench/parse.py [--rounds N] [--startup-runs N] [--corpus PATH] [--startup-only] [--against DIR]
                            [--also-venv DIR]
       (PATH: the `corpus` folder; default ../shared/corpus or $MAILD_CORPUS)
"""

from __future__ import annotations

import argparse
import compileall
import email
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from email.policy import compat32
from pathlib import Path

from flufl.bounce import scan_message

from maild.reports import parse

REPO = Path(__file__).resolve().parents[1]

# The targets.
STARTUP_MS = 60.0
WHOLE_RATIO = 2.0
IN_PROCESS_RATE = 3000.0


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def corpus_files(corpus: Path) -> list[Path]:
    bounces = corpus / "bounces"
    return sorted(bounces.glob("sisimai/*/*.eml")) + sorted(bounces.glob("flufl/*.txt")) + sorted((corpus / "postfix-dsn").glob("*.eml"))


def load(corpus: Path) -> list[bytes]:
    return [f.read_bytes() for f in corpus_files(corpus)]


SISIMAI = "use Sisimai; for my $f (@ARGV) { Sisimai->make($f, delivered => 1) }"


def sisimai_available() -> bool:
    return shutil.which("perl") is not None and subprocess.run(
        ["perl", "-MSisimai", "-e", "1"], capture_output=True
    ).returncode == 0


def sisimai_rate(files: list[Path]) -> float:
    """Sisimai over the same files in one perl process, start-up included (as the issue quotes it)."""
    started = time.perf_counter()
    subprocess.run(["perl", "-e", SISIMAI, *map(str, files)], check=True, capture_output=True)
    return len(files) / (time.perf_counter() - started)


def sisimai_files(corpus: Path) -> list[Path]:
    return sorted((corpus / "bounces").glob("sisimai/*/*.eml"))


def maild_process_seconds(files: list[Path], config: Path, maild: tuple[str, ...] = (sys.executable, "-m", "maild")) -> float:
    """`maild parse --json FILES` as one new process: interpreter, imports and parsing (`maild`: how to run it)."""
    return timed([*maild, "parse", "--json", "--config", str(config), *map(str, files)])[0]


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command, its children's CPU included (each parse child is reaped by its
    parent, so the kernel adds it to the command's)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=False, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def regex_cache(python: str = sys.executable, cwd: Path = REPO) -> str:
    """Where the checkout keeps its compiled regexes (maild.core.recache) and how many it holds, as a note."""
    probe = ("import marshal\ntry:\n from maild.core import recache\nexcept ImportError:\n print('none (no maild.core.recache)'); raise SystemExit\n"
             "p = recache.cache_path()\ntry:\n n = len(marshal.loads(open(p, 'rb').read())[1])\nexcept Exception:\n n = 0\n"
             "print(f'{p}: {n} patterns')")
    # In the checkout's folder: `python -c` looks in the current folder first, which would find this checkout's maild.
    return subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False, cwd=cwd).stdout.strip()


def sisimai_process(files: list[Path]) -> tuple[float, float]:
    """(wall, CPU) seconds of one perl process calling Sisimai->make per file."""
    return timed(["perl", "-e", SISIMAI, *map(str, files)])


def console_script() -> Path | None:
    """The `maild` console script installed beside this interpreter: what users and Postfix's pipe(8) run."""
    script = Path(sys.executable).parent / "maild"
    return script if script.is_file() else None


def install_mode() -> str:
    """How maild is installed in this interpreter's environment: an import hook at each start or not."""
    import site

    for folder in map(Path, site.getsitepackages()):
        if any(folder.glob("__editable___maild_*_finder.py")):
            return ("editable, setuptools' import finder (a .pth runs it at EVERY Python start, python -c pass "
                    "included: reinstall with --config-settings editable_mode=compat)")
        if any(folder.glob("__editable__.maild-*.pth")):
            return "editable, compat mode (a plain path .pth)"
        if any(folder.glob("maild-*.dist-info")):
            return "installed copy (not editable)"
    return "not installed (maild imported from the current folder or PYTHONPATH)"


def startup_commands(config: Path, sample: Path, against: tuple[Path, Path] | None = None,
                     also: Path | None = None) -> dict[str, tuple[list[str], bytes | None]]:
    """Each command run as `python -m maild` and, when installed, through the `maild` console script (and the
    console script of the `against` checkout's venv, on that checkout's own scratch configuration, and that of the
    `also` venv, on ours)."""
    commands: dict[str, tuple[list[str], bytes | None]] = {"python -c pass": ([sys.executable, "-c", "pass"], None)}
    script = console_script()
    runners = [("-m", [sys.executable, "-m", "maild"], config)] + ([("script", [str(script)], config)] if script else [])
    if also is not None:
        commands["python -c pass (also)"] = ([str(also / "bin" / "python"), "-c", "pass"], None)
        runners.append(("also", [str(also / "bin" / "maild")], config))
    if against is not None:
        runners.append(("against", [str(against[0] / ".venv" / "bin" / "maild")], against[1]))
    for how, maild, conf in runners:
        c = ["--config", str(conf)]
        for name, args, stdin in (
            ("parse FILE --json", ["parse", "--json", *c, str(sample)], None),
            ("ingest - (one DSN)", ["ingest", "--json", *c, "-"], sample.read_bytes()),
            ("status T --json", ["status", "1234", "--json", *c], None),
            ("events --json", ["events", "--json", *c], None),
            ("queue list", ["queue", "list", *c], None),
        ):
            commands[f"maild {name} ({how})"] = ([*maild, *args], stdin)
    # Interleave: each command's runners one after the other.
    return dict(sorted(commands.items(), key=lambda kv: (not kv[0].startswith("python -c pass"), kv[0].rsplit(" (", 1)[0])))


def startup_medians(config: Path, sample: Path, runs: int, against: tuple[Path, Path] | None = None,
                    also: Path | None = None) -> tuple[dict[str, tuple[list[float], list[float]]], dict[str, set[int]]]:
    """Wall and CPU (user + system) seconds of each command, `runs` times, commands interleaved; and the exit codes of
    the commands that gave no answer, whose times measure an error path (an older checkout refuses a newer database)."""
    commands = startup_commands(config, sample, against, also)
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
    failed: dict[str, set[int]] = {}
    for _ in range(runs):
        for name, (argv, stdin) in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(argv, input=stdin, capture_output=True, check=False)
            if done.returncode != 0 and not done.stdout:  # no answer at all (status's "unknown ticket" is one)
                failed.setdefault(name, set()).add(done.returncode)
            times[name][0].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times[name][1].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times, failed


def scratch_config(folder: Path, repo: Path = REPO, python: str = sys.executable) -> Path:
    """A checkout's default configuration in a private folder, with a database and a token key made there by that
    checkout's maild (each checkout gets its own: an older one refuses a database a newer one migrated)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "maild.toml"
    shutil.copy(repo / "maild.toml", config)
    subprocess.run([python, "-m", "maild", "keys", "rotate", "--config", str(config)], capture_output=True, check=True)
    return config


def rate(messages: list[bytes], fn) -> float:
    started = time.perf_counter()
    for raw in messages:
        fn(raw)
    return len(messages) / (time.perf_counter() - started)


def flufl_alone(raw: bytes) -> object:
    # flufl.bounce takes a parsed message; parsing with the same fast policy keeps the comparison fair.
    try:
        return scan_message(email.message_from_bytes(raw, policy=compat32))
    except Exception:
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--startup-runs", type=int, default=21)
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILD_CORPUS") or REPO.parent / "shared" / "corpus"))
    ap.add_argument("--startup-only", action="store_true", help="measure the start-up only (no parser rates, no Sisimai)")
    ap.add_argument("--against", type=Path, metavar="DIR",
                    help="another checkout with its own venv (DIR/.venv): its console script's start-up side by side")
    ap.add_argument("--also-venv", type=Path, metavar="DIR",
                    help="a venv with this checkout installed under another interpreter: every measure under it too")
    ap.add_argument("--one-rate", action="store_true", help=argparse.SUPPRESS)  # one in-process round, for --also-venv
    args = ap.parse_args()
    if args.one_rate:
        messages = load(args.corpus)
        rate(messages, parse)  # warm up imports and regex caches, as in_process does
        print(rate(messages, parse))
        return 0
    also = args.also_venv
    if also is not None and not runs_this_checkout(also):
        print(f"--also-venv {also}: its python does not import this checkout's maild, or it has no bin/maild "
              f"(install this checkout into it: {also}/bin/python -m pip install -e {REPO})", file=sys.stderr)
        return 1
    compileall.compile_dir(REPO / "maild", quiet=1)
    if args.against is not None:
        if not (args.against / ".venv" / "bin" / "maild").is_file():
            print(f"--against {args.against}: no .venv/bin/maild there", file=sys.stderr)
            return 1
        compileall.compile_dir(args.against / "maild", quiet=1)
    print(f"load average at the start: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    messages = load(args.corpus)
    if not messages:
        print(f"no messages under {args.corpus}", file=sys.stderr)
        return 1
    files = corpus_files(args.corpus)
    with_sisimai = sisimai_available()
    if not args.startup_only:
        in_process(messages, files, args.rounds, with_sisimai, also, args.corpus)
    with tempfile.TemporaryDirectory(prefix="maild-bench-") as tmp:
        config = scratch_config(Path(tmp))
        against = None
        if args.against is not None:
            against = (args.against, scratch_config(Path(tmp) / "against", args.against, str(args.against / ".venv" / "bin" / "python")))
        if not args.startup_only:
            whole(sisimai_files(args.corpus), config, args.rounds, with_sisimai, against, also)
        sample = args.corpus / "postfix-dsn" / "failure-dsn.eml"
        print(f"start-up, median of {args.startup_runs} runs each (interleaved), target <= {STARTUP_MS:.0f} ms; "
              f"(-m): {Path(sys.executable).name} -m maild, (script): the installed console script "
              f"{console_script() or '(not installed: not measured)'}")
        print(f"  maild's install in {sys.prefix}: {install_mode()}")
        if also is not None:
            print(f"  (also): the console script of {also}, {interpreter(also / 'bin' / 'python')}, on the same configuration")
        measured, failed = startup_medians(config, sample, args.startup_runs, against, also)
        bare = statistics.median(measured["python -c pass"][0])
        for name, (times, cpu) in measured.items():
            median = statistics.median(times) * 1000
            mark = "" if name.startswith("python -c pass") or name.endswith("(against)") else f"  {verdict(median <= STARTUP_MS)}"
            print(f"  {name:36s} median {median:6.1f} ms  (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}; "
                  f"CPU {statistics.median(cpu) * 1000:.1f} ms; {median / (bare * 1000):.1f}x python -c pass){mark}")
            if name in failed:
                print(f"    FAILED (exit {', '.join(map(str, sorted(failed[name])))}): an error path, not comparable")
        if args.against is not None:
            print(f"  ratios, this checkout's console script / {args.against}'s (medians of the same interleaved runs):")
            for name in [n for n in measured if n.endswith("(script)")]:
                if name in failed or name.replace("(script)", "(against)") in failed:
                    print(f"    {name.removesuffix(' (script)'):28s} not compared: a side failed (above)")
                    continue
                ours, theirs = measured[name], measured[name.replace("(script)", "(against)")]
                print(f"    {name.removesuffix(' (script)'):28s} wall {statistics.median(ours[0]) / statistics.median(theirs[0]):.2f}x"
                      f"  CPU {statistics.median(ours[1]) / statistics.median(theirs[1]):.2f}x")
    print(f"load average at the end: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    return 0


def interpreter(python: Path) -> str:
    """The interpreter's version and the binary a venv's python leads to: its build decides much of the figures
    (BENCHMARKS.md, stop 28: Debian's python3.11 against this machine's pyenv build of 3.11.7)."""
    probe = "import os, platform, sys; print(platform.python_version(), os.path.realpath(sys.executable))"
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False).stdout.strip()
    return out or "unknown"


def runs_this_checkout(venv: Path) -> bool:
    """Whether the venv has a maild console script and its python imports this checkout's maild (not another)."""
    if not (venv / "bin" / "maild").is_file():
        return False
    probe = "import maild, os; print(os.path.realpath(maild.__file__))"
    # Not from this folder: `python -c` looks in the current folder first, which would find this checkout anyway.
    done = subprocess.run([str(venv.resolve() / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=False, cwd="/")
    return done.returncode == 0 and Path(done.stdout.strip()).is_relative_to(REPO)


def also_rate(also: Path, corpus: Path) -> float:
    """One in-process round of this checkout's parser under the `also` venv's interpreter (its own warm-up first)."""
    done = subprocess.run([str(also / "bin" / "python"), __file__, "--one-rate", "--corpus", str(corpus)],
                          capture_output=True, text=True, check=True, cwd=REPO)
    return float(done.stdout.split()[-1])


def in_process(messages: list[bytes], files: list[Path], rounds: int, with_sisimai: bool,
               also: Path | None = None, corpus: Path | None = None) -> None:
    """maild's parser, flufl.bounce and Sisimai over the corpus, rounds interleaved (and the parser under the `also`
    venv's interpreter, one process a round)."""
    rate(messages, parse)  # warm up imports and regex caches
    ours, theirs, sis, under = [], [], [], []
    for _ in range(rounds):
        ours.append(rate(messages, parse))
        theirs.append(rate(messages, flufl_alone))
        if with_sisimai:
            sis.append(sisimai_rate(files))
        if also is not None and corpus is not None:
            under.append(also_rate(also, corpus))
    m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
    print(f"python {platform.python_version()} ({interpreter(Path(sys.executable))}), {len(messages)} messages, {rounds} rounds, one core")
    print(f"maild.reports.parse        median {m_ours:8.0f} msg/s  (min {min(ours):.0f}, max {max(ours):.0f})")
    if under and also is not None:
        m_under = statistics.median(under)
        print(f"  same, under {also} ({interpreter(also / 'bin' / 'python')})  median {m_under:8.0f} msg/s  "
              f"(min {min(under):.0f}, max {max(under):.0f}); {m_under / m_ours:.2f}x this interpreter's;"
              f" target: {verdict(m_under >= IN_PROCESS_RATE)}")
    print(f"flufl.bounce scan_message  median {m_theirs:8.0f} msg/s  (min {min(theirs):.0f}, max {max(theirs):.0f})")
    print(f"ratio maild / flufl        {m_ours / m_theirs:.2f}")
    print(f"  target in-process >= {IN_PROCESS_RATE:.0f} msg/s on one core: {verdict(m_ours >= IN_PROCESS_RATE)} ({m_ours:.0f} msg/s)")
    if sis:
        m_sis = statistics.median(sis)
        print(f"Sisimai 4.25 (perl, start-up included) median {m_sis:8.0f} msg/s  (min {min(sis):.0f}, max {max(sis):.0f})")
        print(f"ratio maild / Sisimai      {m_ours / m_sis:.2f}")
    else:
        print("Sisimai: not installed (Debian: apt-get install libsisimai-perl), not measured")


def whole(files: list[Path], config: Path, rounds: int, with_sisimai: bool, against: tuple[Path, Path] | None = None,
          also: Path | None = None) -> None:
    """Whole process over the Sisimai messages, start-up included, both sides (and `against`) in the same rounds.

    One untimed run of each maild first: as compileall gives it its bytecode, it gives it its kept regexes
    (maild.core.recache), which every later run of an installed maild has; the note says what each one holds."""
    if not files:
        return
    # Its console script: `python -m maild` run from this folder would import this checkout's maild.
    other = None if against is None else (str(against[0] / ".venv" / "bin" / "maild"),)
    maild_process_seconds(files, config)
    print(f"  regex cache: {regex_cache()}")
    if against is not None and other is not None:
        maild_process_seconds(files, against[1], other)
        print(f"  regex cache of {against[0]}: {regex_cache(str(against[0] / '.venv' / 'bin' / 'python'), against[0])}")
    ours, one, sis, theirs, a_ours, a_one = [], [], [], [], [], []  # (wall, CPU) pairs
    argv = [sys.executable, "-m", "maild", "parse", "--json", "--config", str(config), *map(str, files)]
    a_argv = None if also is None else [str(also / "bin" / "python"), *argv[1:]]
    if a_argv is not None:
        timed(a_argv)  # its first run, untimed, as ours above
    for _ in range(rounds):
        ours.append(timed(argv))  # the default: one parse child per usable CPU for this many files
        one.append(timed(argv[:4] + ["--jobs", "1"] + argv[4:]))  # one parse child, as Sisimai uses one core
        if a_argv is not None:
            a_ours.append(timed(a_argv))
            a_one.append(timed(a_argv[:4] + ["--jobs", "1"] + a_argv[4:]))
        if with_sisimai:
            sis.append(sisimai_process(files))
        if against is not None and other is not None:
            theirs.append(maild_process_seconds(files, against[1], other))
    m_ours, c_ours = (statistics.median(x) for x in zip(*ours, strict=True))
    m_one, c_one = (statistics.median(x) for x in zip(*one, strict=True))
    print(f"whole process over {len(files)} Sisimai messages, start-up included (wall; CPU of the process and its children):")
    print(f"  maild parse --json FILES           median {m_ours:.3f} s  (min {min(w for w, _ in ours):.3f}, max {max(w for w, _ in ours):.3f});"
          f" CPU {c_ours:.3f} s  (default: one child per usable CPU, {os.cpu_count()} here)")
    print(f"  maild parse --json --jobs 1 FILES  median {m_one:.3f} s  (min {min(w for w, _ in one):.3f}, max {max(w for w, _ in one):.3f});"
          f" CPU {c_one:.3f} s")
    if sis:
        m_sis, c_sis = (statistics.median(x) for x in zip(*sis, strict=True))
        print(f"  perl Sisimai->make each            median {m_sis:.3f} s  (min {min(w for w, _ in sis):.3f}, max {max(w for w, _ in sis):.3f});"
              f" CPU {c_sis:.3f} s")
        print(f"  ratio Sisimai time / maild time, default   {m_sis / m_ours:.2f}x  target >= {WHOLE_RATIO:.0f}x: {verdict(m_sis / m_ours >= WHOLE_RATIO)}")
        print(f"  ratio Sisimai time / maild time, --jobs 1  {m_sis / m_one:.2f}x  target >= {WHOLE_RATIO:.0f}x: {verdict(m_sis / m_one >= WHOLE_RATIO)}")
        print(f"  ratio Sisimai CPU / maild CPU, default {c_sis / c_ours:.2f}x, --jobs 1 {c_sis / c_one:.2f}x"
              f"  (the target as CPU per message: {verdict(c_sis / c_ours >= WHOLE_RATIO)} / {verdict(c_sis / c_one >= WHOLE_RATIO)})")
        if also is not None and a_ours:
            print(f"  under {also} ({interpreter(also / 'bin' / 'python')}), same rounds:")
            for label, runs in (("default", a_ours), ("--jobs 1", a_one)):
                m, c = (statistics.median(x) for x in zip(*runs, strict=True))
                print(f"    {label:9s} median {m:.3f} s, CPU {c:.3f} s; Sisimai / this {m_sis / m:.2f}x wall"
                      f" (target: {verdict(m_sis / m >= WHOLE_RATIO)}), {c_sis / c:.2f}x CPU")
    if theirs and against is not None:
        m_theirs = statistics.median(theirs)
        print(f"  {against[0]}'s maild parse --json FILES  median {m_theirs:.3f} s  (min {min(theirs):.3f}, max {max(theirs):.3f});"
              f" this checkout / that one: {m_ours / m_theirs:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
