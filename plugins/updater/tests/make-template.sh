#!/bin/sh
# Makes tests/projects/edited: a template repository with tags v1.0.0,
# v1.1.0 and v2.0.0 (a breaking commit), kept as one git bundle file
# (`template.bundle`, since a case's project is plain files), and a project
# generated from v1.0.0 then edited so that `lord update` meets a clean
# update, a merge, a conflict, an added and a removed file. Dates and names
# are fixed, so the bundle's commit ids do not change when it is remade.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/projects/edited"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Template GIT_AUTHOR_EMAIL=template@example.invalid
export GIT_COMMITTER_NAME=Template GIT_COMMITTER_EMAIL=template@example.invalid
export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'
git init -q -b main "$work/t"
cd "$work/t"
printf 'name = "app"\nversion = 1\n' > config.toml
printf 'line one\nline two\nline three\n' > README.md
printf 'print("hello")\n' > main.py
printf 'keep me\n' > old.txt
git add -A && git commit -qm "feat: the first template" && git tag v1.0.0
printf 'line one\nline two\nline three\nline four from the template\n' > README.md
printf 'print("hello, world")\n' > main.py
printf 'fresh\n' > added.txt
git add -A && git commit -qm "feat: a fourth line and added.txt" && git tag v1.1.0
printf 'name = "app"\nversion = 2\n' > config.toml
git rm -q old.txt
git commit -qam "feat!: config version 2" -m "BREAKING CHANGE: config.toml moves to version 2"
git tag v2.0.0
rm -rf "$out" && mkdir -p "$out"
git bundle create -q "$out/template.bundle" --all
git archive v1.0.0 | tar -x -C "$out"
# The project's own edits: one above the template's change (merges), one
# on the same line (conflicts); main.py is left as generated.
printf 'line zero, the project'"'"'s own\nline one\nline two\nline three\n' > "$out/README.md"
printf 'name = "app"\nversion = 7\n' > "$out/config.toml"
printf 'repository = "template.bundle"\nversion = "v1.0.0"\n' > "$out/.lord-template.toml"
