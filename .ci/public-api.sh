#!/usr/bin/env bash
# Counts the SDK's public API: every item reachable from the crate root through public paths
# (modules, types, traits, functions and methods, constants, macros, external re-exports), once
# per item and once per path (an item reachable by two paths is one item, two paths). An item
# re-exported from the workspace's tus crate (wix-media-tus) counts with its methods, as if it
# were the SDK's own; other external re-exports (ureq) count once. Public fields and enum
# variants are listed but not in the total. Needs a nightly toolchain (rustdoc's JSON output)
# and python3.
#   bash .ci/public-api.sh          # the counts
#   bash .ci/public-api.sh --list   # and every path
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for crate in wix-media-upload wix-media-tus; do
  cargo +nightly rustdoc -q -p "$crate" --lib -- -Z unstable-options --output-format json
done
python3 - "$@" <<'PY'
import json, sys
from collections import Counter, defaultdict

doc = json.load(open("target/doc/wix_media_upload.json"))
index = doc["index"]
# The tus crate's items, by path, for the SDK's re-exports of them.
tus = json.load(open("target/doc/wix_media_tus.json"))
for k, v in tus["index"].items():
    index.setdefault("tus:" + k, v)
tus_ids = {"::".join(p["path"]): "tus:" + k for k, p in tus["paths"].items()
           if p["crate_id"] == 0 and k in tus["index"]}

def tus_item(target):
    """The tus crate's id of the external item `target` the SDK re-exports, or None."""
    known = doc["paths"].get(str(target))
    return known and tus_ids.get("::".join(known["path"]))

items, paths, extra = {}, defaultdict(list), Counter()

def kind_of(it):
    k = next(iter(it["inner"]))
    return {"struct": "types", "enum": "types", "union": "types", "type_alias": "types",
            "trait": "traits", "function": "fns", "constant": "consts", "static": "consts",
            "assoc_const": "consts", "assoc_type": "types", "macro": "macros",
            "proc_macro": "macros", "module": "modules"}.get(k, k)

def add(id_, path, kind):
    paths[id_].append(path)
    first = id_ not in items
    items.setdefault(id_, kind)
    return first

def ref(owner, id_):
    """An id named inside item `owner` (a tus item's members are tus ids)."""
    return f"tus:{id_}" if str(owner).startswith("tus:") else str(id_)

def members(id_, path):
    it = index[str(id_)]
    inner = it["inner"]
    k = next(iter(inner))
    if k in ("struct", "enum", "union"):
        body = inner[k]
        if k == "enum":
            for v in body["variants"]:
                extra["variants"] += 1
                vk = index[ref(id_, v)]["inner"]["variant"]["kind"]
                if isinstance(vk, dict) and "struct" in vk:
                    extra["fields"] += len(vk["struct"]["fields"])
        elif k == "struct":
            sk = body["kind"]
            if isinstance(sk, dict):
                fields = sk.get("plain", {}).get("fields") or sk.get("tuple") or []
                extra["fields"] += len([f for f in fields if f is not None])
        for imp in body["impls"]:
            imp = index[ref(id_, imp)]["inner"]["impl"]
            if imp["trait"] is not None or imp["blanket_impl"] is not None or imp["is_synthetic"]:
                continue
            for m in imp["items"]:
                mi = index[ref(id_, m)]
                if mi["visibility"] != "public":
                    continue
                mk = "methods" if "function" in mi["inner"] else kind_of(mi)
                add(ref(id_, m), f"{path}::{mi['name']}", mk)
    elif k == "trait":
        for m in inner["trait"]["items"]:
            mi = index[ref(id_, m)]
            mk = "methods" if "function" in mi["inner"] else kind_of(mi)
            add(ref(id_, m), f"{path}::{mi['name']}", mk)

def visit(mod_id, path):
    for id_ in index[str(mod_id)]["inner"]["module"]["items"]:
        it = index[str(id_)]
        if it["visibility"] != "public":
            continue
        if "use" in it["inner"]:
            u = it["inner"]["use"]
            target = u["id"]
            if target is None or str(target) not in index:
                found = tus_item(target)
                if found is None:
                    add(f"ext:{u['source']}", f"{path}::{u['name']}", "external re-exports")
                    continue
                target = found
            if u["is_glob"]:
                visit(target, path)
                continue
            t = index[str(target)]
            p = f"{path}::{u['name']}"
            if add(target, p, kind_of(t)):
                if "module" in t["inner"]:
                    visit(target, p)
                else:
                    members(target, p)
            elif "module" in t["inner"]:
                pass
            continue
        p = f"{path}::{it['name']}"
        if add(id_, p, kind_of(it)):
            if "module" in it["inner"]:
                visit(id_, p)
            else:
                members(id_, p)

visit(doc["root"], "wix_media_upload")
counts = Counter(items.values())
order = ["modules", "types", "traits", "fns", "methods", "consts", "macros", "external re-exports"]
for k in order + sorted(set(counts) - set(order)):
    print(f"{k:22} {counts.get(k, 0)}")
print(f"{'total items':22} {sum(counts.values())}")
dup = {i: p for i, p in paths.items() if len(p) > 1}
print(f"{'total paths':22} {sum(len(p) for p in paths.values())}")
print(f"{'items with 2+ paths':22} {len(dup)}")
print(f"{'(public fields)':22} {extra['fields']}")
print(f"{'(enum variants)':22} {extra['variants']}")
if "--list" in sys.argv:
    for i, p in sorted(paths.items(), key=lambda x: x[1][0]):
        print(f"{items[i]:10} " + "  =  ".join(p))
PY
