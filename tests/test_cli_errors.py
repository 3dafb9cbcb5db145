"""The CLI against careless use and hostile input, every subcommand: one clear line, a documented
exit code, no traceback, nothing written (table-driven)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from patternlite.cli import main as patternlite_main  # noqa: E402
from patternlite.converter import prune  # noqa: E402
from patternlite.converter.models import digits_cnn, digits_data  # noqa: E402
from patternlite.converter.policy import PrunePolicy  # noqa: E402

REFUSED, USAGE = 1, 2


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained digits CNN with its masks, client data, junk files and a mobile-style model."""
    d = tmp_path_factory.mktemp("cli")
    model = digits_cnn(width=8)
    model.save(d / "model.keras")
    result = prune(model, keep=0.5, policy=PrunePolicy.from_options(patterns=4, method="magnitude"), progress=False)
    result.model.save(d / "pruned.keras")
    result.save_masks(d / "pruned.masks.npz")
    x, y, _, _ = digits_data()
    np.savez(d / "client.npz", images=x[:32], labels=y[:32])
    (d / "junk.keras").write_bytes(b"\x00not a keras archive" * 10)
    (d / "notes.keras").write_text("a text file renamed .keras\n")
    (d / "notes.h5").write_text("a text file renamed .h5\n")
    (d / "empty.keras").write_bytes(b"")
    rng = np.random.default_rng(0)
    np.savez(d / "few.npz", images=x[:4], labels=y[:4])
    np.savez(d / "zeros.npz", images=np.zeros((32, *x.shape[1:]), np.float32), labels=y[:32])
    np.savez(d / "one_class.npz", images=x[:32], labels=np.full(32, 3))
    np.savez(d / "both.npz", images=x[:32], x=x[:32], labels=y[:32])
    np.savez(d / "xy.npz", x=x[:32], y=y[:32])
    np.savez(d / "flat.npz", images=rng.random(32).astype(np.float32))
    (d / "one_folder" / "7").mkdir(parents=True)
    from PIL import Image

    for i in range(12):
        Image.fromarray((x[i, ..., 0] * 255).astype(np.uint8), mode="L").save(d / "one_folder" / "7" / f"{i}.png")
    (d / "model.tflite").write_bytes(b"TFL3" + b"\x00" * 64)
    (d / "notes.csv").write_text("1,2\n")
    (d / "a_folder").mkdir()
    inp = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", name="stem")(inp)
    h = keras.layers.DepthwiseConv2D(3, padding="same")(h)
    h = keras.layers.Conv2D(8, 1)(h)
    keras.Model(inp, keras.layers.GlobalAveragePooling2D()(h)).save(d / "mobile.keras")
    (d / "out").mkdir()
    return d


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    try:
        rc = patternlite_main(argv)
    except SystemExit as exc:  # argparse: usage errors, --help, --version
        rc = int(exc.code or 0) if not isinstance(exc.code, str) else REFUSED
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


# (argv with {d} for the work folder and {o} for the output folder, exit code, stderr must contain)
CASES = [
    # prune
    ("prune {d}/missing.keras -o {o}/p.tflite", REFUSED, "does not exist"),
    ("prune {d}/model.tflite -o {o}/p.tflite", REFUSED, "not the .tflite"),
    ("prune {d}/junk.keras -o {o}/p.tflite --method magnitude", REFUSED, "cannot load"),
    ("prune {d}/a_folder -o {o}/p.tflite", REFUSED, "is not a file"),
    ("prune {d}/notes.keras -o {o}/p.tflite", REFUSED, "a .keras file is a zip archive, but it starts with b'a text"),
    ("prune {d}/notes.h5 -o {o}/p.tflite", REFUSED, "a .h5 file is an HDF5 file"),
    ("prune {d}/empty.keras -o {o}/p.tflite", REFUSED, "but it is empty"),
    ("prune {d}/model.keras -o {o}/p.onnx", REFUSED, "-o must end in .keras or .h5 or .tflite"),
    ("prune {d}/model.keras -o {o}/nowhere/p.tflite", REFUSED, "does not exist"),
    ("prune {d}/model.keras -o /sys/p.tflite", REFUSED, "cannot write in the folder /sys"),
    ("prune {d}/model.keras -o {d}/model.keras", REFUSED, "refusing to overwrite"),
    ("prune {d}/model.keras -o {o}/p.tflite --tflite {o}/q.tflite", REFUSED, "not both"),
    # mobile.keras: stem 3x3, depthwise, then a 1x1 conv with nothing after it (a head).
    ("prune {d}/mobile.keras -o {o}/p.tflite --method magnitude --layers 3x3", REFUSED, "--prune-first"),
    ("prune {d}/mobile.keras -o {o}/p.tflite --method magnitude --layers 1x1 --keep 0.5", REFUSED, "--prune-head"),
    ("prune {d}/model.keras -o {o}/p.tflite --method magnitude --layers 1x1", REFUSED, "no prunable layers"),
    ("prune {d}/model.keras -o {o}/p.tflite --layers 3x3,conv5x5", USAGE, "unknown layer kind 'conv5x5'"),
    ("prune {d}/model.keras -o {o}/p.tflite --layers ,", USAGE, "no layer kind selected"),
    ("prune {d}/model.keras -o {o}/p.tflite --keep-1x1 1.5", USAGE, "must be in (0, 1], got 1.5"),
    ("prune {d}/model.keras -o {o}/p.tflite --keep-depthwise 0", USAGE, "must be in (0, 1], got 0"),
    ("prune {d}/model.keras -o {o}/p.tflite --keep-depthwise x", USAGE, "expected a fraction"),
    ("prune {d}/model.keras -o {o}/p.tflite --layers 3x3 --keep-1x1 0.5", REFUSED, "does not select 1x1"),
    ("prune {d}/model.keras -o {o}/p.tflite --keep 1.5", USAGE, "must be in (0, 1], got 1.5"),
    ("prune {d}/model.keras -o {o}/p.tflite --keep abc", USAGE, "expected a fraction"),
    ("prune {d}/model.keras -o {o}/p.tflite --keep conv1=0", USAGE, "must be in (0, 1]"),
    ("prune {d}/model.keras -o {o}/p.tflite --patterns 0x1ff", USAGE, "keeps 9 taps, not 4"),
    ("prune {d}/model.keras -o {o}/p.tflite --patterns 99", USAGE, "1..56"),
    ("prune {d}/model.keras -o {o}/p.tflite --samples 0", USAGE, "expected an integer >= 1"),
    ("prune {d}/model.keras -o {o}/p.tflite --budget -1", USAGE, "expected a number >= 0"),
    ("prune {d}/model.keras -o {o}/p.tflite --preset slow", USAGE, "invalid choice"),
    ("prune {d}/model.keras -o {o}/p.tflite --synthesis adversarial", USAGE, "invalid choice"),
    ("prune {d}/model.keras -o {o}/p.tflite --keep {{}}", USAGE, "expected"),
    # export
    ("export {d}/missing.keras -o {o}/e.tflite", REFUSED, "does not exist"),
    ("export {d}/pruned.keras -o {o}/e.keras", REFUSED, "-o must end in .tflite"),
    ("export {d}/pruned.keras -o {o}/e.tflite --masks {d}/none.npz", REFUSED, "does not exist"),
    ("export {d}/pruned.keras -o {o}/e.tflite --masks {d}/notes.csv", REFUSED, "--masks must be .npz"),
    ("export {d}/junk.keras -o {o}/e.tflite", REFUSED, "cannot load"),
    # finetune
    ("finetune {d}/pruned.keras --data {d}/client.npz -o {o}/t.onnx", REFUSED, "-o must end in"),
    ("finetune {d}/pruned.keras --data {d}/notes.csv -o {o}/t.keras", REFUSED, "an .npz file or a folder"),
    ("finetune {d}/pruned.keras --data {d}/client.npz -o {o}/t.keras --minutes 0", USAGE, "expected a number > 0"),
    ("finetune {d}/pruned.keras --data {d}/client.npz -o {o}/t.keras --holdout 1", REFUSED, "holdout"),
    ("finetune {d}/model.keras --data {d}/client.npz -o {o}/t.keras", REFUSED, "no masks at"),
    ("finetune {d}/pruned.keras --data {d}/client.npz -o {o}/t.keras --teacher {d}/model.tflite", REFUSED, "--teacher"),
    ("finetune {d}/notes.keras --data {d}/client.npz -o {o}/t.keras", REFUSED, "a .keras file is a zip archive"),
    ("finetune {d}/pruned.keras --data {d}/few.npz -o {o}/t.keras", REFUSED, "holds 4 images; retraining needs"),
    ("finetune {d}/pruned.keras --data {d}/zeros.npz -o {o}/t.keras", REFUSED, "every client image is constant (all"),
    ("finetune {d}/pruned.keras --data {d}/one_class.npz -o {o}/t.keras", REFUSED, "every label is 3"),
    ("finetune {d}/pruned.keras --data {d}/both.npz -o {o}/t.keras", REFUSED, "has both 'images' and 'x'"),
    ("finetune {d}/pruned.keras --data {d}/flat.npz -o {o}/t.keras", REFUSED, "(N, H, W, C) or (N, H, W)"),
    ("finetune {d}/pruned.keras --data {d}/one_folder -o {o}/t.keras", REFUSED, "one class folder"),
    # demo
    ("demo --out {d}/notes.csv", REFUSED, "is not a folder"),
    ("demo --runs 0", USAGE, "expected an integer >= 1"),
    ("demo --keep 2", USAGE, "(0, 1]"),
    # inspect
    ("inspect {d}/missing.tflite", REFUSED, "no such file"),
    ("inspect {d}/a_folder", REFUSED, "cannot read"),
    ("inspect {d}/model.tflite", REFUSED, "patternlite inspect"),
    # the dispatcher
    ("convert {d}/model.keras", USAGE, "unknown command"),
    ("", USAGE, "usage: patternlite {inspect,prune,export,finetune,demo}"),
]


@pytest.mark.parametrize(
    ("argv", "code", "message"), CASES, ids=[(c[0].split() or ["bare"])[0] + ":" + c[2] for c in CASES]
)
def test_refusals_are_one_clear_line_and_write_nothing(
    work: Path, argv: str, code: int, message: str, capsys: pytest.CaptureFixture
) -> None:
    out = work / "out"
    before = sorted(work.rglob("*"))
    args = argv.format(d=work, o=out).split()
    rc, _, err = _run(args, capsys)
    assert rc == code, (argv, rc, err)
    assert message in err, (argv, err)
    assert "Traceback" not in err
    if code == REFUSED:
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("patternlite"), err
    else:
        assert "_keep" not in err and "_number" not in err  # no internal names in usage errors
    assert sorted(work.rglob("*")) == before, "a refused command wrote something"


def test_verbose_shows_the_traceback(work: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(Exception, match="does not exist"):
        patternlite_main(["prune", str(work / "missing.keras"), "-o", str(work / "out" / "p.tflite"), "--verbose"])


def test_version_and_help_show_defaults(capsys: pytest.CaptureFixture) -> None:
    from patternlite import __version__

    assert _run(["--version"], capsys)[:2] == (0, f"patternlite {__version__}\n")
    rc, out, _ = _run(["prune", "--help"], capsys)
    flat = " ".join(out.split())
    assert rc == 0 and "(default: standard)" in flat and "(default: 1.0)" in flat and "None" not in flat
    rc, out, _ = _run(["finetune", "--help"], capsys)
    assert rc == 0 and "(default: 10.0)" in " ".join(out.split())
    for command in ("prune", "finetune", "export", "demo"):
        rc, out, _ = _run([command, "--help"], capsys)
        assert rc == 0 and "(default: 0)" in " ".join(out.split()[out.split().index("--seed") :]), command
    rc, out, _ = _run(["inspect", "--help"], capsys)
    assert rc == 0 and "``" not in out and "patternlite inspect:" in out


def test_a_fake_model_is_refused_before_tensorflow_loads(work: Path) -> None:
    """A text file named .keras: one line naming the format, from a process that never imported TensorFlow."""
    code = (
        "import sys; from patternlite.cli import main; "
        f"rc = main(['prune', {str(work / 'notes.keras')!r}, '-o', {str(work / 'out' / 'q.tflite')!r}]); "
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == REFUSED, proc.stderr
    assert "a .keras file is a zip archive" in proc.stderr and "File not found" not in proc.stderr


def test_outputs_get_the_usual_permissions(work: Path) -> None:
    out = work / "perm"
    out.mkdir(exist_ok=True)
    old = os.umask(0o022)
    try:
        rc = patternlite_main(["export", str(work / "pruned.keras"), "-o", str(out / "m.tflite")])
    finally:
        os.umask(old)
    assert rc == 0
    assert (out / "m.tflite").stat().st_mode & 0o777 == 0o644


def test_a_redirected_run_is_quiet(work: Path, tmp_path: Path) -> None:
    """No TensorFlow start-up lines or Keras warnings, and progress bars throttled, in a log."""
    cmd = [
        sys.executable,
        "-m",
        "patternlite.cli",
        "prune",
        str(work / "model.keras"),
        "-o",
        str(tmp_path / "p.tflite"),
    ]
    cmd += ["--keep", "0.5", "--patterns", "4", "--samples", "64", "--synthetic-steps", "5", "--iterations", "2"]
    cmd += ["--distill-steps", "20", "--synthesis", "growing"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "adversarial images added" in proc.stdout, proc.stdout
    for noise in ("oneDNN", "cuInit", "absl", "UserWarning", "structure of `inputs`"):
        assert noise not in proc.stderr, proc.stderr
    assert proc.stderr.count("\r") < 30, proc.stderr[-2000:]
    assert (tmp_path / "p.tflite").is_file()
