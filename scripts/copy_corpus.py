"""Copy the documents listed in corpus/manifest.toml from the mirror directory into corpus/.

Only missing or changed files are copied; each copy is checked against the manifest's SHA-256.
Usage: python scripts/copy_corpus.py --mirror ../shared/corpus --corpus corpus
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tomllib
from pathlib import Path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_corpus(mirror: Path, corpus: Path) -> int:
    manifest = tomllib.loads((corpus / "manifest.toml").read_text(encoding="utf-8"))
    problems = 0
    for entry in manifest.get("document", []):
        target = corpus / entry["file"]
        if target.is_file() and sha256(target) == entry["sha256"]:
            continue
        source = mirror / entry["file"]
        if not source.is_file():
            print(f"{source}: missing in the mirror for manifest entry '{entry['id']}'. "
                  "Set CORPUS_MIRROR to the folder that holds the corpus.", file=sys.stderr)
            problems += 1
            continue
        if sha256(source) != entry["sha256"]:
            print(f"{source}: checksum differs from manifest entry '{entry['id']}'; not copied.", file=sys.stderr)
            problems += 1
            continue
        shutil.copyfile(source, target)
        print(f"copied {entry['file']}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mirror", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    args = parser.parse_args()
    return 1 if copy_corpus(args.mirror, args.corpus) else 0


if __name__ == "__main__":
    sys.exit(main())
