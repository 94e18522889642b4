"""Version pins read from dependency files, never by running them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ckpt_lint.versions import Pin, effective_major, find_pins, spec_major

# zjunlp/DeepKE requirements.txt (2023)
DEEPKE = """\
torch>=1.5,<=1.11
hydra-core==1.0.6
tensorboard==2.4.1
matplotlib==3.4.1
transformers==4.26.0
jieba==0.42.1
huggingface_hub==0.11.0
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def brief(pins: dict[str, Pin]) -> dict[str, tuple]:
    return {k: (p.spec, p.major, p.version, p.location.path.name, p.location.line) for k, p in pins.items()}


def test_deepke_requirements(tmp_path):
    write(tmp_path, "requirements.txt", DEEPKE)
    pins = find_pins(tmp_path)
    assert brief(pins) == {
        "torch": (">=1.5,<=1.11", 1, None, "requirements.txt", 1),
        "hydra-core": ("==1.0.6", 1, "1.0.6", "requirements.txt", 2),
        "transformers": ("==4.26.0", 4, "4.26.0", "requirements.txt", 5),
    }
    assert pins["transformers"].location.path == tmp_path / "requirements.txt"
    assert pins["transformers"].location.column == 1


def test_deepke_example_requirements_with_comments_and_local_versions(tmp_path):
    # zjunlp/DeepKE example/ner/standard/requirements.txt
    write(tmp_path, "requirements.txt", "# ae\n# matplotlib\n\ndeepke\nwandb==0.13.9\n\n# BERT NER\n"
                                        "pytorch-transformers==1.2.0\ntorch==1.11.0+cu115\nhydra-core==1.0.6\n")
    assert brief(find_pins(tmp_path)) == {
        "torch": ("==1.11.0+cu115", 1, "1.11.0+cu115", "requirements.txt", 9),
        "hydra-core": ("==1.0.6", 1, "1.0.6", "requirements.txt", 10),
    }


def test_includes_extras_markers_options(tmp_path):
    write(tmp_path, "requirements.txt", "-r requirements/base.txt\n--index-url https://pypi.org/simple\n"
                                        "-e .\npeft @ git+https://github.com/huggingface/peft.git  # dev\n")
    write(tmp_path, "requirements/base.txt", "-c ../constraints.txt\n"
                                             "transformers[torch,sentencepiece] == 4.30.2 ; python_version >= '3.8' \\\n"
                                             "    --hash=sha256:abc\n")
    write(tmp_path, "constraints.txt", "torch<2.1  # cuda 11.7 wheels\nHydra_Core>=1.3\n")
    pins = find_pins(tmp_path)
    assert brief(pins) == {
        "transformers": ("==4.30.2", 4, "4.30.2", "base.txt", 2),
        "torch": ("<2.1", 2, None, "constraints.txt", 1),
        "hydra-core": (">=1.3", None, None, "constraints.txt", 2),
        "peft": ("@git+https://github.com/huggingface/peft.git", None, None, "requirements.txt", 4),
    }


def test_include_cycles_and_missing_files(tmp_path):
    write(tmp_path, "requirements.txt", "-r requirements-dev.txt\n-r missing.txt\ntorch==2.1.0\n")
    write(tmp_path, "requirements-dev.txt", "-r requirements.txt\npeft==0.10.0\n")
    assert {k: p.version for k, p in find_pins(tmp_path).items()} == {"torch": "2.1.0", "peft": "0.10.0"}


def test_one_level_down_and_preference(tmp_path):
    write(tmp_path, "requirements.txt", "torch>=1.0\ntransformers\n")
    write(tmp_path, "example/requirements.txt", "torch==1.11.0\ntransformers>=4.30\n")
    write(tmp_path, "example/deep/requirements.txt", "transformers==3.0.0\n")  # two levels down: not read
    write(tmp_path, ".venv/requirements.txt", "transformers==2.0.0\n")
    pins = find_pins(tmp_path)
    assert pins["torch"].version == "1.11.0" and pins["torch"].location.path.parent.name == "example"
    assert pins["transformers"].spec == ">=4.30"  # a spec beats a bare name


def test_pyproject_pep621_and_poetry(tmp_path):
    write(tmp_path, "pyproject.toml", """\
[project]
name = "demo"
dependencies = [
    "transformers>=4.30,<5",
    'torch (>=2.0)',
]

[project.optional-dependencies]
lora = ["peft~=0.10.0"]

[tool.poetry.dependencies]
python = "^3.10"
hydra-core = "^1.3"
"""
                                     )
    assert brief(find_pins(tmp_path)) == {
        "transformers": (">=4.30,<5", 4, None, "pyproject.toml", 4),
        "torch": (">=2.0", None, None, "pyproject.toml", 5),
        "peft": ("~=0.10.0", 0, "0.10.0", "pyproject.toml", 9),
        "hydra-core": ("^1.3", 1, None, "pyproject.toml", 13),
    }
    assert find_pins(tmp_path)["torch"].location.column == 6


def test_poetry_tables(tmp_path):
    write(tmp_path, "pyproject.toml", """\
[tool.poetry.dependencies]
transformers = { version = "^4.30", extras = ["torch"] }
torch = "*"

[tool.poetry.group.train.dependencies]
peft = "0.6.2"
""")
    assert brief(find_pins(tmp_path)) == {
        "transformers": ("^4.30", 4, None, "pyproject.toml", 2),
        "peft": ("0.6.2", 0, "0.6.2", "pyproject.toml", 6),
    }


def test_setup_cfg(tmp_path):
    write(tmp_path, "setup.cfg", """\
[metadata]
name = demo
description = transformers==9.9 is not a dependency here

[options]
python_requires = >=3.8
install_requires =
    torch>=1.10,<2
    transformers==4.26.0

[options.extras_require]
lora = peft>=0.4
""")
    assert brief(find_pins(tmp_path)) == {
        "torch": (">=1.10,<2", 1, None, "setup.cfg", 8),
        "transformers": ("==4.26.0", 4, "4.26.0", "setup.cfg", 9),
        "peft": (">=0.4", None, None, "setup.cfg", 12),
    }


def test_setup_py_is_read_not_run(tmp_path):
    marker = tmp_path / "ran"
    write(tmp_path, "setup.py", f"""\
import pathlib
pathlib.Path({str(marker)!r}).write_text("executed")
from setuptools import setup

setup(
    name="demo",
    description="torch based toolkit",
    install_requires=[
        "transformers==4.26.0",
        'torch<=1.11',
        f"peft=={{'0.1'}}",
    ],
)
""")
    assert brief(find_pins(tmp_path)) == {
        "transformers": ("==4.26.0", 4, "4.26.0", "setup.py", 9),
        "torch": ("<=1.11", 1, None, "setup.py", 10),
    }
    assert find_pins(tmp_path)["torch"].location.column == 10
    assert not marker.exists()


def test_conda_environment(tmp_path):
    write(tmp_path, "environment.yml", """\
name: deepke
channels: [pytorch, conda-forge]
dependencies:
  - python=3.8
  - pytorch::pytorch=1.11.0=py3.8_cuda11.3_cudnn8.2.0_0
  - conda-forge::transformers>=4.30
  - pip
  - pip:
      - hydra-core==1.0.6
      - peft @ git+https://github.com/huggingface/peft
""")
    pins = find_pins(tmp_path)
    assert brief(pins) == {
        "torch": ("=1.11.0", 1, "1.11.0", "environment.yml", 5),
        "transformers": (">=4.30", None, None, "environment.yml", 6),
        "hydra-core": ("==1.0.6", 1, "1.0.6", "environment.yml", 9),
        "peft": ("@git+https://github.com/huggingface/peft", None, None, "environment.yml", 10),
    }
    assert pins["hydra-core"].location.column == 9


def test_unreadable_files_are_skipped(tmp_path):
    write(tmp_path, "pyproject.toml", "[project\ndependencies = [")
    write(tmp_path, "environment.yml", "dependencies: [a, b\n")
    write(tmp_path, "setup.py", "setup(install_requires=['torch==1.0'\n")
    (tmp_path / "requirements.txt").write_bytes(b"\xff\xfe\x00t\x00o")
    assert isinstance(find_pins(tmp_path), dict)
    assert find_pins(tmp_path / "missing") == {}


def test_package_names_normalized(tmp_path):
    write(tmp_path, "requirements.txt", "Hydra_Core==1.1.0\nTransformers==4.40.0\n")
    pins = find_pins(tmp_path, packages=["hydra.core", "TRANSFORMERS"])
    assert set(pins) == {"hydra-core", "transformers"} and pins["hydra-core"].package == "hydra-core"


@pytest.mark.parametrize("spec, expected", [
    ("==4.26.0", (4, "4.26.0")),
    ("===4.26.0", (4, "4.26.0")),
    ("~=4.30", (4, "4.30")),
    ("==4.*", (4, None)),
    ("<=1.11", (1, None)),
    ("<5", (4, None)),
    ("<5.0.0", (4, None)),
    ("<4.30", (4, None)),
    (">=4.30,<5", (4, None)),
    (">=4.30", (None, None)),
    (">4,!=4.1", (None, None)),
    ("^4.30", (4, None)),
    ("~4.30", (4, None)),
    ("4.30.2", (4, "4.30.2")),
    ("=4.26", (4, "4.26")),
    ("<0", (None, None)),
    ("", (None, None)),
])
def test_spec_major(spec, expected):
    assert spec_major(spec) == expected


def test_effective_major(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "requirements.txt", "torch\nhydra-core>=1.3\ntransformers==4.26.0\npeft<1\n")
    write(tmp_path, "sub/requirements.txt", "torch<7\n")
    pins = find_pins(tmp_path)
    assert effective_major(pins["transformers"], current=5) == (
        4, "transformers==4.26.0 pinned in requirements.txt:3")
    assert effective_major(None, current=5) == (5, "transformers 5.x assumed: no pin found")
    assert effective_major(None, current=1, package="hydra-core") == (1, "hydra-core 1.x assumed: no pin found")
    assert effective_major(pins["hydra-core"], current=1) == (
        1, "hydra-core 1.x assumed: hydra-core>=1.3 in requirements.txt:2 allows it")
    assert effective_major(pins["peft"], current=0) == (0, "peft<1 in requirements.txt:4 limits it to 0.x")
    assert effective_major(pins["torch"], current=2) == (
        2, "torch 2.x assumed: torch<7 in sub/requirements.txt:1 allows it")
