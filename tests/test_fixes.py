"""`--fix`, `--diff`, `--unsafe-fixes`: the fixes of CKL201 (safe) and CKL101 (unsafe), end to end.

Every project is a copy of a fixture in `tmp_path`, linted in-process from a real working folder; the
assertions are on what users get: the exact diff, the exact file afterwards (bytes, where encodings
and line endings matter), exit codes and the `Fixed N errors.` line. The last tests drive `lint.fixes`
and `lint.codemods` directly for what a fixture cannot easily show (conflicts, call layouts).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from ckpt_lint.cli import main
from ckpt_lint.diagnostics import Edit, Finding, Fix, Location, Severity

FIXTURES = Path(__file__).parent / "fixtures"
PAD = "CKL201/added_pad_token"  # infer.py:13 PeftModel.from_pretrained(model, ADAPTER); len(tokenizer) = 100 = rows
MERGE = "CKL201/merge_no_resize"  # merge_peft_adapter.py:28, in main(), after a blank line; launched by run.sh
LABELS = "CKL101/labels_file"  # predict.py:13 from_pretrained(CKPT, config=config): 4 labels vs 7
HIDDEN = "Fixed 0 errors (1 hidden fix can be enabled with --unsafe-fixes)."

PAD_DIFF = """\
--- a/infer.py
+++ b/infer.py
@@ -10,6 +10,7 @@
 tokenizer.padding_side = "left"
 
 model = AutoModelForCausalLM.from_pretrained(BASE, torch_dtype=torch.float32)
+model.resize_token_embeddings(len(tokenizer))
 model = PeftModel.from_pretrained(model, ADAPTER)
 model.eval()
 print("loaded")
"""

LABELS_DIFF = """\
--- a/predict.py
+++ b/predict.py
@@ -10,5 +10,5 @@
 
 id2label = {i: l for i, l in enumerate(labels)}
 config = AutoConfig.from_pretrained(CKPT, id2label=id2label, label2id={l: i for i, l in enumerate(labels)})
-model = AutoModelForTokenClassification.from_pretrained(CKPT, config=config)
+model = AutoModelForTokenClassification.from_pretrained(CKPT, config=config, ignore_mismatched_sizes=True)
 print("loaded")
"""


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("empty-hf-cache")))
    for var in ("NO_COLOR", "FORCE_COLOR", "CKPT_LINT_OUTPUT_FORMAT", "CKPT_LINT_DEBUG", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def cli(monkeypatch, capsys):
    """`cli(*args, cwd=folder)` -> (exit code, stdout, stderr) of `ckpt-lint --isolated args` run from `folder`."""

    def run(*args, cwd: Path, isolated: bool = True):
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([*map(str, args), *(["--isolated"] if isolated else [])])
        out, err = capsys.readouterr()
        assert "Traceback" not in err and "internal error" not in err, err
        return code, out, err

    return run


def project(case: str, dest: Path) -> Path:
    shutil.copytree(FIXTURES / case, dest, ignore=shutil.ignore_patterns("expected.txt", "runtime.json"))
    return dest


def tree(folder: Path) -> dict[str, bytes]:
    """Every file of a project and its bytes (ckpt-lint's own analysis cache left out)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".ckpt_lint_cache" not in p.parts}


def edit_line(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


# -- CKL201: a safe fix ---------------------------------------------------------------------------


def test_ckl201_diff_then_fix_then_nothing_left(cli, tmp_path):
    proj = project(PAD, tmp_path / "proj")
    before = tree(proj)

    code, out, err = cli(".", "--diff", cwd=proj)
    assert (code, out) == (1, PAD_DIFF)
    assert err == "Would fix 1 error.\n"
    assert tree(proj) == before  # --diff writes nothing

    code, out, _ = cli(".", "--fix", cwd=proj)
    assert (code, out) == (0, "All checks passed!\nFixed 1 error.\n")
    fixed = (proj / "infer.py").read_text(encoding="utf-8")
    # exactly the hand-fixed variant of the fixture: one line inserted, everything else as it was
    assert fixed == (FIXTURES / (PAD + "_ok") / "infer.py").read_text(encoding="utf-8")
    assert fixed.splitlines()[11:14] == [
        "model = AutoModelForCausalLM.from_pretrained(BASE, torch_dtype=torch.float32)",
        "model.resize_token_embeddings(len(tokenizer))",
        "model = PeftModel.from_pretrained(model, ADAPTER)",
    ]
    assert {k for k, v in tree(proj).items() if before.get(k) != v} == {"infer.py"}

    after = tree(proj)
    code, out, _ = cli(".", "--fix", cwd=proj)  # idempotent
    assert (code, out) == (0, "All checks passed!\nFixed 0 errors.\n")
    assert tree(proj) == after
    assert cli(".", "--diff", cwd=proj)[:2] == (0, "")
    assert cli(".", "--output-format", "concise", cwd=proj)[:2] == (0, "")


def test_ckl201_in_a_function_keeps_blank_lines_and_comments(cli, tmp_path):
    proj = project(MERGE, tmp_path / "proj")
    script = proj / "merge_peft_adapter.py"
    edit_line(script, "    new_model = PeftModel.from_pretrained(",
              "    # put the adapter on the base\n    new_model = PeftModel.from_pretrained(")
    original = script.read_text(encoding="utf-8")

    code, out, _ = cli("proj", "--diff", cwd=tmp_path)  # paths relative to the working folder
    assert code == 1
    assert out == """\
--- a/proj/merge_peft_adapter.py
+++ b/proj/merge_peft_adapter.py
@@ -26,6 +26,7 @@
             print(f"Resize vocabulary size {base_model_token_size} to {len(tokenizer)}")
 
     # put the adapter on the base
+    base_model.resize_token_embeddings(len(tokenizer))
     new_model = PeftModel.from_pretrained(base_model, args.lora_model)
     new_model = new_model.merge_and_unload()
     tokenizer.save_pretrained(args.output_dir)
"""
    assert script.read_text(encoding="utf-8") == original

    code, out, _ = cli("proj", "--fix", cwd=tmp_path)
    assert (code, out) == (0, "All checks passed!\nFixed 1 error.\n")
    assert script.read_text(encoding="utf-8") == original.replace(
        "    # put the adapter on the base\n",
        "    # put the adapter on the base\n    base_model.resize_token_embeddings(len(tokenizer))\n")
    assert cli("proj", "--fix", cwd=tmp_path)[:2] == (0, "All checks passed!\nFixed 0 errors.\n")


def test_ckl201_literal_rows_without_a_tokenizer_of_that_length(cli, tmp_path):
    proj = project(PAD, tmp_path / "proj")
    infer = proj / "infer.py"
    edit_line(infer, 'tokenizer.add_special_tokens({"pad_token": "<pad>"})\n', "")  # len(tokenizer) is 99 now
    cli(".", "--fix", cwd=proj)
    assert "\nmodel.resize_token_embeddings(100)\nmodel = PeftModel" in infer.read_text(encoding="utf-8")
    assert cli(".", cwd=proj)[0] == 0


def test_ckl201_len_tokenizer_only_when_the_name_certainly_holds_that_tokenizer(cli, tmp_path):
    proj = project(PAD, tmp_path / "proj")
    infer = proj / "infer.py"
    edit_line(infer, 'tokenizer.padding_side = "left"\n',
              'tokenizer.padding_side = "left"\nif os.environ.get("PLAIN_TOKENIZER"):\n'
              '    tokenizer = AutoTokenizer.from_pretrained(BASE)  # 99 tokens on this path\n')
    edit_line(infer, "import torch\n", "import os\n\nimport torch\n")
    cli(".", "--fix", cwd=proj)
    assert "\nmodel.resize_token_embeddings(100)\nmodel = PeftModel" in infer.read_text(encoding="utf-8")


def test_ckl201_load_adapter_resizes_the_model_it_is_called_on(cli, tmp_path):
    proj = project(PAD, tmp_path / "proj")
    infer = proj / "infer.py"
    edit_line(infer, "model = PeftModel.from_pretrained(model, ADAPTER)\n", "model.load_adapter(ADAPTER)\n")
    assert cli(".", "--fix", cwd=proj)[:2] == (0, "All checks passed!\nFixed 1 error.\n")
    assert "\nmodel.resize_token_embeddings(len(tokenizer))\nmodel.load_adapter(ADAPTER)\n" in infer.read_text(
        encoding="utf-8")


def test_ckl201_display_only_when_the_base_is_a_call(cli, tmp_path):
    proj = project(PAD, tmp_path / "proj")
    edit_line(proj / "infer.py",
              "model = AutoModelForCausalLM.from_pretrained(BASE, torch_dtype=torch.float32)\n"
              "model = PeftModel.from_pretrained(model, ADAPTER)\n",
              "def get_base():\n"
              "    return AutoModelForCausalLM.from_pretrained(BASE, torch_dtype=torch.float32)\n\n\n"
              "model = PeftModel.from_pretrained(get_base(), ADAPTER)\n")
    before = tree(proj)
    code, out, _ = cli(".", "--output-format", "json", cwd=proj)
    [finding] = json.loads(out)
    assert finding["code"] == "CKL201"
    assert finding["fix"]["applicability"] == "display-only" and finding["fix"]["edits"] == []
    assert cli(".", "--diff", cwd=proj)[:2] == (0, "")
    code, out, _ = cli(".", "--fix", "--unsafe-fixes", "--output-format", "concise", cwd=proj)
    assert code == 1 and out.splitlines()[-1] == "Fixed 0 errors."
    assert tree(proj) == before


def test_two_fixes_in_one_file_are_both_applied(cli, tmp_path):
    proj = project(PAD, tmp_path / "proj")
    infer = proj / "infer.py"
    edit_line(infer, "model.eval()\n",
              "model.eval()\n\n"
              "other = AutoModelForCausalLM.from_pretrained(BASE)\n"
              "other = PeftModel.from_pretrained(other, ADAPTER)  # a second copy\n")
    assert cli(".", "--output-format", "concise", cwd=proj)[1].count("CKL201") == 2
    code, out, _ = cli(".", "--fix", cwd=proj)
    assert (code, out) == (0, "All checks passed!\nFixed 2 errors.\n")
    text = infer.read_text(encoding="utf-8")
    assert "\nmodel.resize_token_embeddings(len(tokenizer))\nmodel = PeftModel.from_pretrained(model, ADAPTER)\n" in text
    assert ("\nother.resize_token_embeddings(len(tokenizer))\n"
            "other = PeftModel.from_pretrained(other, ADAPTER)  # a second copy\n") in text


def test_fixes_at_one_place_apply_one_per_run(cli, tmp_path):
    proj = project(PAD, tmp_path / "proj")
    infer = proj / "infer.py"
    edit_line(infer, "model = PeftModel.from_pretrained(model, ADAPTER)\n",
              "other = AutoModelForCausalLM.from_pretrained(BASE)\n"
              "model, other = PeftModel.from_pretrained(model, ADAPTER), PeftModel.from_pretrained(other, ADAPTER)\n")
    code, out, _ = cli(".", "--fix", "--output-format", "concise", cwd=proj)
    lines = out.splitlines()
    assert code == 1 and lines[-1] == "Fixed 1 error." and [line[:18] for line in lines[:-2]] == ["infer.py:15:59: CK"]
    code, out, _ = cli(".", "--fix", "--output-format", "concise", cwd=proj)
    assert (code, out) == (0, "Fixed 1 error.\n")
    assert ("model.resize_token_embeddings(len(tokenizer))\nother.resize_token_embeddings(len(tokenizer))\n"
            "model, other = PeftModel") in infer.read_text(encoding="utf-8")


@pytest.mark.parametrize("how", ["crlf", "latin-1 coding line", "utf-8 bom"])
def test_encoding_line_endings_and_mode_are_kept(cli, tmp_path, how):
    proj = project(PAD, tmp_path / "proj")
    infer = proj / "infer.py"
    text = infer.read_text(encoding="utf-8")
    inserted = "model.resize_token_embeddings(len(tokenizer))\n"
    if how == "crlf":
        data = text.replace("\n", "\r\n").encode()
        expected = text.replace("model = PeftModel", inserted + "model = PeftModel").replace("\n", "\r\n").encode()
    elif how == "latin-1 coding line":
        text = "# -*- coding: latin-1 -*-\n# café, naïve\n" + text
        data = text.encode("latin-1")
        expected = text.replace("model = PeftModel", inserted + "model = PeftModel").encode("latin-1")
    else:
        data = b"\xef\xbb\xbf" + text.encode()
        expected = b"\xef\xbb\xbf" + text.replace("model = PeftModel", inserted + "model = PeftModel").encode()
    infer.write_bytes(data)
    os.chmod(infer, 0o640)
    assert cli(".", "--fix", cwd=proj)[:2] == (0, "All checks passed!\nFixed 1 error.\n")
    assert infer.read_bytes() == expected
    assert stat.S_IMODE(infer.stat().st_mode) == 0o640
    assert list(proj.glob(".infer.py.*")) == []  # no temporary file left behind


@pytest.mark.parametrize("how", ["directive", "--ignore", "--select"])
def test_suppressed_ignored_or_unselected_findings_are_not_fixed(cli, tmp_path, how):
    proj = project(PAD, tmp_path / "proj")
    args = []
    if how == "directive":
        edit_line(proj / "infer.py", "model = PeftModel.from_pretrained(model, ADAPTER)",
                  "model = PeftModel.from_pretrained(model, ADAPTER)  # ckpt-lint: ignore[CKL201]")
    else:
        args = [how, "CKL201" if how == "--ignore" else "CKL1"]
    before = tree(proj)
    assert cli(".", "--fix", *args, cwd=proj)[:2] == (0, "All checks passed!\nFixed 0 errors.\n")
    assert cli(".", "--diff", *args, cwd=proj)[:2] == (0, "")
    assert tree(proj) == before


# -- CKL101: an unsafe fix ----------------------------------------------------------------------------


def test_ckl101_is_hidden_without_unsafe_fixes(cli, tmp_path):
    proj = project(LABELS, tmp_path / "proj")
    before = tree(proj)
    code, out, _ = cli(".", "--fix", "--output-format", "concise", cwd=proj)
    assert code == 1
    assert out.splitlines()[0].startswith("predict.py:13:9: CKL101 ")
    assert out.splitlines()[-1] == HIDDEN
    code, out, err = cli(".", "--diff", cwd=proj)
    assert (code, out, err) == (0, "", "Would fix 0 errors (1 hidden fix can be enabled with --unsafe-fixes).\n")
    code, out, _ = cli(".", cwd=proj)  # the full format says so too
    assert "help: use the label list" in out  # no [*]: not applied by --fix
    assert out.splitlines()[-1] == "No fixes available (1 hidden fix can be enabled with --unsafe-fixes)."
    assert tree(proj) == before


def test_ckl101_with_unsafe_fixes(cli, tmp_path):
    proj = project(LABELS, tmp_path / "proj")
    before = tree(proj)
    code, out, err = cli(".", "--diff", "--unsafe-fixes", cwd=proj)
    assert (code, out, err) == (1, LABELS_DIFF, "Would fix 1 error.\n")
    assert tree(proj) == before
    code, out, _ = cli(".", "--unsafe-fixes", cwd=proj)
    assert "help: [*] use the label list" in out and out.splitlines()[-1] == "[*] 1 fixable with --fix."

    code, out, _ = cli(".", "--fix", "--unsafe-fixes", "--output-format", "concise", cwd=proj)
    assert (code, out) == (0, "Fixed 1 error.\n")
    original = before["predict.py"].decode()
    assert (proj / "predict.py").read_text(encoding="utf-8") == original.replace(
        "from_pretrained(CKPT, config=config)", "from_pretrained(CKPT, config=config, ignore_mismatched_sizes=True)")
    after = tree(proj)
    assert cli(".", "--fix", "--unsafe-fixes", "--output-format", "concise", cwd=proj)[:2] == (0, "Fixed 0 errors.\n")
    assert tree(proj) == after
    assert "CKL101" not in cli(".", "--output-format", "concise", cwd=proj)[1]


@pytest.mark.parametrize("call, fixed", [
    ("AutoModelForTokenClassification.from_pretrained(\n    CKPT,  # the 7-label checkpoint\n    config=config,\n)",
     "AutoModelForTokenClassification.from_pretrained(\n    CKPT,  # the 7-label checkpoint\n    config=config,\n"
     "    ignore_mismatched_sizes=True,\n)"),
    ("AutoModelForTokenClassification.from_pretrained(CKPT,\n"
     "                                                config=config)",
     "AutoModelForTokenClassification.from_pretrained(CKPT,\n"
     "                                                config=config,\n"
     "                                                ignore_mismatched_sizes=True)"),
    ("AutoModelForTokenClassification.from_pretrained(CKPT, config=config, ignore_mismatched_sizes=False)",
     "AutoModelForTokenClassification.from_pretrained(CKPT, config=config, ignore_mismatched_sizes=True)"),
])
def test_ckl101_keeps_the_call_layout(cli, tmp_path, call, fixed):
    proj = project(LABELS, tmp_path / "proj")
    predict = proj / "predict.py"
    edit_line(predict, "AutoModelForTokenClassification.from_pretrained(CKPT, config=config)", call)
    original = predict.read_text(encoding="utf-8")
    assert cli(".", "--fix", "--unsafe-fixes", cwd=proj)[:2] == (0, "All checks passed!\nFixed 1 error.\n")
    assert predict.read_text(encoding="utf-8") == original.replace(call, fixed)


def test_ckl101_display_only_with_double_star_kwargs(cli, tmp_path):
    proj = project(LABELS, tmp_path / "proj")
    edit_line(proj / "predict.py", "from_pretrained(CKPT, config=config)",
              'from_pretrained(CKPT, config=config, **{"cache_dir": None})')
    before = tree(proj)
    [finding] = json.loads(cli(".", "--output-format", "json", cwd=proj)[1])
    assert finding["code"] == "CKL101" and finding["fix"]["applicability"] == "display-only"
    code, out, _ = cli(".", "--fix", "--unsafe-fixes", "--output-format", "concise", cwd=proj)
    assert code == 1 and out.splitlines()[-1] == "Fixed 0 errors."
    assert tree(proj) == before


def test_json_shows_each_fix_with_its_edits(cli, tmp_path):
    pad, labels = project(PAD, tmp_path / "pad"), project(LABELS, tmp_path / "labels")
    [resize] = json.loads(cli(".", "--output-format", "json", cwd=pad)[1])
    assert resize["fix"] == {
        "message": "call `model.resize_token_embeddings(len(tokenizer))` before PeftModel.from_pretrained "
                   "(len(tokenizer) = 100, the rows the adapter saved)",
        "applicability": "safe",
        "edits": [{"path": "infer.py", "start": {"line": 13, "column": 1}, "end": {"line": 13, "column": 1},
                   "content": "model.resize_token_embeddings(len(tokenizer))\n"}],
    }
    [head] = json.loads(cli(".", "--output-format", "json", cwd=labels)[1])
    assert head["fix"]["applicability"] == "unsafe"
    assert head["fix"]["edits"] == [{"path": "predict.py", "start": {"line": 13, "column": 76},
                                     "end": {"line": 13, "column": 76}, "content": ", ignore_mismatched_sizes=True"}]


# -- settings -------------------------------------------------------------------------------------------


def test_pyproject_fix_and_unsafe_fixes(cli, tmp_path):
    proj = project(LABELS, tmp_path / "proj")
    shutil.copytree(FIXTURES / PAD, proj / "pad", ignore=shutil.ignore_patterns("expected.txt", "runtime.json"))
    pyproject = proj / "pyproject.toml"
    pyproject.write_text("[tool.ckpt-lint]\nfix = true\noutput-format = \"concise\"\n")
    before = tree(proj)
    code, out, _ = cli(".", "--no-fix", cwd=proj, isolated=False)
    assert code == 1 and tree(proj) == before and "Fixed" not in out
    code, out, _ = cli(".", cwd=proj, isolated=False)  # fix = true: the safe CKL201 fix only
    assert code == 1 and out.splitlines()[-1] == "Fixed 1 error (1 hidden fix can be enabled with --unsafe-fixes)."
    assert "model.resize_token_embeddings(len(tokenizer))" in (proj / "pad" / "infer.py").read_text(encoding="utf-8")
    assert (proj / "predict.py").read_bytes() == before["predict.py"]
    pyproject.write_text("[tool.ckpt-lint]\nfix = true\nunsafe-fixes = true\noutput-format = \"concise\"\n")
    assert cli(".", cwd=proj, isolated=False)[:2] == (0, "Fixed 1 error.\n")
    assert "ignore_mismatched_sizes=True" in (proj / "predict.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("body", ['fix = "yes"', "unsafe-fixes = 1"])
def test_pyproject_fix_settings_must_be_booleans(cli, tmp_path, body):
    proj = project(LABELS, tmp_path / "proj")
    (proj / "pyproject.toml").write_text(f"[tool.ckpt-lint]\n{body}\n")
    code, out, err = cli(".", cwd=proj, isolated=False)
    key = body.split(" ")[0]
    assert (code, out) == (2, "")
    assert err == f"ckpt-lint: {proj / 'pyproject.toml'}: {key} must be true or false\n"


# -- the machinery on its own ------------------------------------------------------------------------------


def _finding(path: Path, edits, applicability="safe", code="CKL201") -> Finding:
    return Finding(code, "n", Severity.ERROR, f"m{edits}", Location(path, 1, 1),
                   Fix("fix it", applicability, tuple(Edit(path, *e) for e in edits)))


def test_plan_skips_overlaps_breakage_and_stale_positions_and_shares_identical_fixes(tmp_path):
    from ckpt_lint import fixes

    src = tmp_path / "a.py"
    src.write_text("x = 1\ny = 2\n", encoding="utf-8")
    first = _finding(src, [((1, 5), (1, 6), "10")])
    same = _finding(src, [((1, 5), (1, 6), "10")], code="CKL202")  # the very same fix: applied once
    touching = _finding(src, [((1, 6), (1, 6), "0")])  # right after the first one's span
    broken = _finding(src, [((2, 3), (2, 4), "")])  # `y  2`: not Python
    stale = _finding(src, [((9, 1), (9, 1), "z = 3\n")])
    unsafe = _finding(src, [((2, 5), (2, 6), "3")], applicability="unsafe")
    display = Finding("CKL101", "n", Severity.ERROR, "m", Location(src, 1, 1), Fix("hint"))
    outcome = fixes.plan([first, same, touching, broken, stale, unsafe, display], unsafe=False)
    assert outcome.fixed == [first, same]
    assert outcome.skipped == [touching, broken, stale]
    assert outcome.hidden == 1
    [change] = outcome.changes
    assert change.fixed == "x = 10\ny = 2\n"
    assert fixes.write(outcome) == [first, same]
    assert src.read_text(encoding="utf-8") == "x = 10\ny = 2\n"
    # with --unsafe-fixes the unsafe one applies too, on top of the text as it is now
    outcome = fixes.plan([unsafe], unsafe=True)
    assert outcome.fixed == [unsafe] and outcome.changes[0].fixed == "x = 10\ny = 3\n"


def test_write_leaves_a_file_changed_since_the_plan_alone(tmp_path):
    from ckpt_lint import fixes

    src = tmp_path / "a.py"
    src.write_text("x = 1\n", encoding="utf-8")
    outcome = fixes.plan([_finding(src, [((1, 5), (1, 6), "2")])], unsafe=False)
    src.write_text("x = 5\n", encoding="utf-8")  # edited in between
    assert fixes.write(outcome) == []
    assert src.read_text(encoding="utf-8") == "x = 5\n"
    assert outcome.errors == [f"{src}: changed while ckpt-lint was fixing it; not fixed"]


@pytest.mark.parametrize("source, expected", [
    ("f(p)", "f(p, k=True)"),
    ("f()", "f(k=True)"),
    ("f(p, c = 1)", "f(p, c = 1, k = True)"),
    ("f(p, c=1,)", "f(p, c=1, k=True,)"),
    ("f(\n    p,\n    c=1\n)", "f(\n    p,\n    c=1,\n    k=True\n)"),
    ("f(\n    p,  # path\n    c=1,  # config\n)", "f(\n    p,  # path\n    c=1,  # config\n    k=True,\n)"),
    ("f(\n    p,\n    c=1  # config\n)", "f(\n    p,\n    c=1,  # config\n    k=True\n)"),
    ("f(\n    p\n)", "f(\n    p,\n    k=True\n)"),
    ("f(p, *rest)", "f(p, *rest, k=True)"),
    ("f(p, k=False)", "f(p, k=True)"),
    ("f(p, k=flag)", None),
    ("f(p, **kw)", None),
])
def test_set_keyword_follows_the_call_layout(source, expected):
    import libcst as cst

    from ckpt_lint.codemods import line_starts, set_keyword, to_offset
    from ckpt_lint.sources.python import parse_python

    text = f"model = {source}\n"
    file = parse_python(Path("x.py"), text)
    call = file.module.body[0].body[0].value
    assert isinstance(call, cst.Call)
    edits = set_keyword(file, call, "k", "True", replaceable=("False",))
    if expected is None:
        assert edits is None
        return
    [edit] = edits
    starts = line_starts(text)
    start, end = to_offset(starts, text, edit.start), to_offset(starts, text, edit.end)
    assert text[:start] + edit.content + text[end:] == f"model = {expected}\n"
