#!/usr/bin/env bash
# Lists non-test functions longer than 60 lines (signature to closing brace) in the SDK's src/
# and the command's cli/src (or in the paths given). rustfmt layout assumed: a function's
# closing brace is the first line after it at the same indentation, and a `mod tests` ends at
# its own indentation's brace. Exits 1 when there is one.
#   bash .ci/long-fns.sh [MAX] [PATH...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
max="${1:-60}"
shift || true
paths=("$@")
[ ${#paths[@]} -gt 0 ] || paths=(src cli/src)
# shellcheck disable=SC2016
find "${paths[@]}" -name '*.rs' -print0 | sort -z | xargs -0 awk -v max="$max" '
    FNR == 1 { in_test = 0; fn_indent = -1 }
    # A test module: skipped to its closing brace.
    in_test == 0 && /^ *mod tests *\{/ && prev ~ /#\[cfg\(test\)\]/ {
        in_test = 1; match($0, /^ */); test_indent = RLENGTH; prev = $0; next
    }
    in_test == 1 {
        match($0, /^ */)
        if (RLENGTH == test_indent && $0 ~ /^ *\}/) in_test = 0
        prev = $0; next
    }
    fn_indent < 0 && /^ *(pub(\([a-z]+\))? )?(const )?(unsafe )?fn [A-Za-z0-9_]+/ {
        match($0, /^ */); fn_indent = RLENGTH; start = FNR
        name = $0; sub(/^ *(pub(\([a-z]+\))? )?(const )?(unsafe )?fn /, "", name); sub(/[<(].*/, "", name)
        # A one-line function, or a declaration without body.
        if ($0 ~ /\}$/ || $0 ~ /;$/) fn_indent = -1
        prev = $0; next
    }
    fn_indent >= 0 {
        match($0, /^ */)
        if (RLENGTH == fn_indent && $0 ~ /^ *\}/) {
            len = FNR - start + 1
            if (len > max) { printf "%s:%d %s %d lines\n", FILENAME, start, name, len; long = 1 }
            fn_indent = -1
        }
    }
    { prev = $0 }
    END { exit long ? 1 : 0 }
' || exit 1
