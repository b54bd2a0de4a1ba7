"""Fuzzing every reader through the real CLI (issue 17, "keep it found").

Each case takes a seed input (the corpus in ``fixtures/fuzz/``, the repository's own
fixtures, or real files of ``../shared/data`` read where they are), mutates one or more of
its files with the strategies of ``tests/mutations.py``, converts it to one of the task types
its reader feeds with ``prelabel convert`` in a subprocess under limits
(``tests/hostile.py``), and asserts what must hold for any input:

- the exit code is documented (0, 3, 4 or 6; never 1) and an error is one line, no traceback;
- the run stays within time and memory bounds (wall clock, the child's own peak RSS, an
  address-space ceiling);
- nothing is written outside ``--out`` (absolute paths in the input point at a folder the
  test watches);
- a run that succeeds accounts for every object (``objects_in == objects_out +
  objects_dropped``, the records add up) and writes a directory `validate` passes.

Runs briefly in CI (a few derandomized examples per reader family, no shrinking). At length:

    PRELABEL_FUZZ_EXAMPLES=500 .venv/bin/pytest tests/test_fuzz_readers.py -q

(random examples, shrunk to a minimal failing input, remembered in ``.hypothesis/``; with
``PRELABEL_FUZZ_SAVE=DIR`` each failing input is also written to DIR). A failure found that
way is fixed and its input added to ``fixtures/fuzz/regressions/``, which
:func:`test_regressions` runs every time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import FIXTURES, SHARED
from hostile import check_run, files_outside, run_cli
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from mutations import ABS, json_document, png_image, tracking_text

from prelabel.config.load import load_config
from prelabel.pipeline import validate_dir

FUZZ = FIXTURES / "fuzz"
CONFIGS = FUZZ / "configs"
REGRESSIONS = FUZZ / "regressions"
IMAGE, SEGMENT = "imageannotation", "segmentannotation"
VIDEO, PLAYBACK = "videoannotation", "videoplaybackannotation"

LONG = "PRELABEL_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("PRELABEL_FUZZ_EXAMPLES", "3"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG,  # CI sees the same cases every run
    database=None if not LONG else settings.default.database,
    phases=list(Phase) if LONG else [Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Seed:
    """One input of a reader: its files (placed under the case's input folder as named),
    the arguments (``{in}`` = that folder) and the task types it feeds."""

    reader: str
    files: dict[str, Path]
    args: tuple[str, ...]
    task_types: tuple[str, ...]
    name: str = ""
    kinds: dict[str, str] = field(default_factory=dict)  # file -> json | text | png


def seed(reader: str, files: dict[str, Path], args: tuple[str, ...], *types: str) -> Seed:
    name = f"{reader}:{next(iter(files.values())).relative_to(FIXTURES.parent.parent)}"
    return Seed(reader, files, args, types, name)


VOC = SHARED / "datumaro" / "voc_dataset" / "voc_dataset1" / "SegmentationClass"
VIS = SHARED / "mmtracking" / "demo_vis_data"
COCO_SEEDS = [
    seed("coco", {"in.json": FUZZ / "coco/dataset.json"}, ("{in}/in.json",), IMAGE, SEGMENT),
    seed("coco", {"in.json": SHARED / "datumaro/coco_dataset/coco_instances/annotations/instances_val.json"},
         ("{in}/in.json",), IMAGE, SEGMENT),
    seed("coco", {"in.json": FUZZ / "coco/results.json", "images.json": FUZZ / "coco/dataset.json"},
         ("{in}/in.json", "--images", "{in}/images.json"), IMAGE, SEGMENT),
    seed("coco", {"in.json": FUZZ / "coco/results.json"},
         ("{in}/in.json", "--image-size", "640x640"), IMAGE, SEGMENT),
    seed("coco", {"in.json": FUZZ / "coco/cocovid.json"}, ("{in}/in.json", "--fps", "10"),
         VIDEO, PLAYBACK, IMAGE),
    seed("coco", {"in.json": FUZZ / "coco/tracks.json"},
         ("{in}/in.json", "--image-size", "32x24", "--fps", "10"), VIDEO, PLAYBACK, IMAGE),
    seed("coco", {"in.json": VIS / "results.json", "ann.json": VIS / "ann.json"},
         ("{in}/in.json", "--images", "{in}/ann.json", "--fps", "10"), VIDEO, PLAYBACK),
]  # fmt: skip
MASK_SEEDS = [
    seed("masks", {"masks/0001.png": FUZZ / "masks/semantic/0001.png",
                   "masks/0002.png": FUZZ / "masks/semantic/0002.png",
                   "classes.txt": FUZZ / "masks/classes.txt"},
         ("{in}/masks", "--classes", "{in}/classes.txt"), SEGMENT, IMAGE),
    seed("masks", {"masks/0001.png": FUZZ / "masks/panoptic/0001.png",
                   "panoptic.json": FUZZ / "masks/panoptic.json"},
         ("{in}/masks", "--panoptic", "{in}/panoptic.json"), SEGMENT, IMAGE),
    seed("masks", {"masks/2007_000001.png": VOC / "2007_000001.png"},
         ("{in}/masks", "--colormap", "voc"), SEGMENT, IMAGE),
]  # fmt: skip
MOT_SEEDS = [
    seed("mot", {"seq01/gt/gt.txt": FUZZ / "mot/seq01/gt/gt.txt",
                 "seq01/seqinfo.ini": FUZZ / "mot/seq01/seqinfo.ini"},
         ("{in}/seq01/gt/gt.txt", "--label", "person"), VIDEO, PLAYBACK, IMAGE),
    seed("mot", {"gt.txt": SHARED / "motmetrics/data/TUD-Campus/gt.txt"},
         ("{in}/gt.txt", "--image-size", "640x480", "--label", "person", "--fps", "10"),
         VIDEO, PLAYBACK, IMAGE),
    seed("mot", {"det.txt": SHARED / "sort/train/TUD-Campus/det/det.txt"},
         ("{in}/det.txt", "--image-size", "640x480", "--label", "person", "--fps", "10"),
         VIDEO, PLAYBACK),
]  # fmt: skip
KITTI_SEEDS = [
    seed("kitti", {"0000.txt": FIXTURES / "kitti/label_02/0000.txt"},
         ("{in}/0000.txt", "--image-size", "1242x375", "--fps", "10"), VIDEO, PLAYBACK, IMAGE),
    seed("kitti", {"0000.txt": FIXTURES / "kitti/results/0000.txt"},
         ("{in}/0000.txt", "--image-size", "1242x375", "--fps", "10"), VIDEO, PLAYBACK, IMAGE),
]  # fmt: skip


def mutation(name: str, data: bytes) -> st.SearchStrategy[bytes]:
    """The strategy for one file, by its kind."""
    if name.endswith(".json"):
        return json_document(data)
    if name.endswith(".png"):
        return png_image(data)
    return tracking_text(data)


@dataclass(frozen=True)
class Case:
    """A seed with some of its files mutated, and the task type to convert to."""

    seed: Seed
    task_type: str
    contents: dict[str, bytes]

    def __repr__(self) -> str:  # what a failing example prints
        changed = [n for n, d in self.contents.items() if d != self.seed.files[n].read_bytes()]
        return f"Case({self.seed.name} -> {self.task_type}, mutated {changed})"


@st.composite
def cases(draw: st.DrawFn, seeds: list[Seed]) -> Case:
    chosen = draw(st.sampled_from(seeds))
    names = list(chosen.files)
    mutate = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    contents = {}
    for name in names:
        data = chosen.files[name].read_bytes()
        contents[name] = draw(mutation(name, data)) if name in mutate else data
    return Case(chosen, draw(st.sampled_from(chosen.task_types)), contents)


def run_case(case: Case, *, preview: bool = LONG, fuzzing: bool = True) -> None:
    """Convert the case in a fresh folder and check everything a run must hold."""
    with tempfile.TemporaryDirectory(prefix="prelabel-fuzz-") as tmp:
        root = Path(tmp)
        inputs, out, outside = root / "in", root / "out", root / "abs"
        outside.mkdir()
        for name, data in case.contents.items():
            (inputs / name).parent.mkdir(parents=True, exist_ok=True)
            (inputs / name).write_bytes(data.replace(ABS.encode(), str(outside).encode()))
        before = files_outside(root, out, set())
        config = CONFIGS / f"{case.task_type}.toml"
        args = [a.replace("{in}", str(inputs)) for a in case.seed.args]
        run = run_cli("convert", case.seed.reader, *args, "-c", str(config), "-o", str(out), "-q")
        if fuzzing:  # --hypothesis-show-statistics counts exits per reader
            event(f"{case.seed.reader}: exit {run.code}")
        check_run(run, out)
        assert not files_outside(root, out, before), f"wrote outside --out: {run.args}"
        if run.code != 0:
            return
        assert validate_dir(out, load_config(config)) == [], run.args
        if preview:
            check_run(run_cli("preview", str(out), "-q", "-n", "3"))
            check_run(run_cli("report", str(out), "-q", "-n", "3"))
            assert not files_outside(root, out, before), "preview wrote outside --out"


def _needs_shared(seeds: list[Seed]) -> list[Seed]:
    return [s for s in seeds if all(p.exists() for p in s.files.values())]


def family(seeds: list[Seed]) -> Callable[[Case], None]:
    @FUZZ_SETTINGS
    @given(case=cases(_needs_shared(seeds)))
    def fuzz(case: Case) -> None:
        try:
            run_case(case)
        except AssertionError:
            keep = os.environ.get("PRELABEL_FUZZ_SAVE")  # where to keep failing inputs
            if keep:
                save_regression(case, len(list(Path(keep).glob("*"))), Path(keep))
            raise

    return fuzz


test_fuzz_coco = family(COCO_SEEDS)
test_fuzz_masks = family(MASK_SEEDS)
test_fuzz_mot = family(MOT_SEEDS)
test_fuzz_kitti = family(KITTI_SEEDS)


def regression_cases() -> list[tuple[str, Seed, str, dict[str, bytes]]]:
    """Inputs the fuzzer once broke, each a folder ``<n>-<reader>-<task type>/`` holding the
    seed's files as mutated and an ``args`` file (one argument a line, ``{in}`` = the folder)."""
    out = []
    for folder in sorted(p for p in REGRESSIONS.glob("*") if p.is_dir()):
        _, reader, task_type = folder.name.split("-", 2)
        args = tuple((folder / "args").read_text().splitlines())
        files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*")
                 if p.is_file() and p.name != "args"}  # fmt: skip
        found = Seed(reader, files, args, (task_type,), folder.name)
        out.append((folder.name, found, task_type, {n: p.read_bytes() for n, p in files.items()}))
    return out


@pytest.mark.parametrize(
    ("name", "found", "task_type", "contents"),
    regression_cases(),
    ids=[c[0] for c in regression_cases()],
)
def test_regressions(name: str, found: Seed, task_type: str, contents: dict[str, bytes]) -> None:
    run_case(Case(found, task_type, contents), preview=True, fuzzing=False)


def save_regression(case: Case, number: int, root: Path = REGRESSIONS) -> Path:
    """Write a case as a regression folder (``PRELABEL_FUZZ_SAVE=DIR`` keeps each failing
    case so; the fixed ones move to ``fixtures/fuzz/regressions/``)."""
    folder = root / f"{number:03d}-{case.seed.reader}-{case.task_type}"
    shutil.rmtree(folder, ignore_errors=True)
    for name, data in case.contents.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "args").write_text("\n".join(case.seed.args) + "\n")
    return folder
