"""The screening table: one row per variant from its evaluation, Markdown rows and the
per-source table of differences from each variant's reference, and rewriting them between
their markers in a Markdown file (benchmarks.screen fills it)."""

import os

# The base run's training data (benchmarks.screen's default).
TRAIN_SET = "voc_dir:voc2012_animals,voc_dir:voc_street,folder:photos"
# Every variant's training budget unless --steps says otherwise.
DEFAULT_STEPS = 2000
TABLE_START, TABLE_END = "<!-- screening:start -->", "<!-- screening:end -->"
SOURCES_START, SOURCES_END = "<!-- screening-sources:start -->", "<!-- screening-sources:end -->"
HEADER = (
    "| variant | flags | minutes | AuC − grey | rebalanced AuC − grey | colourfulness | "
    "brown-cast share | blotch | bleeding | class top-1 | rebalanced AuC − ref. [95 %] | "
    "brown-cast − ref. [95 %] | blotch − ref. [95 %] |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
)


def _interval(value, bounds, scale=1.0):
    return f"{scale * value:+.2f} [{scale * bounds[0]:+.2f}, {scale * bounds[1]:+.2f}]"


def summary_row(name, flags_text, minutes, result, reference=None):
    """The variant's figures: pooled (and per set), against grey and the reference. With a
    single val set the evaluation has no pooled summary: that set's figures are pooled."""
    pooled = result.get("all")
    if pooled is None:
        if len(result["per_set"]) != 1:
            raise ValueError("an evaluation without a pooled summary must hold one set.")
        pooled = next(iter(result["per_set"].values()))
    row = {
        "variant": name,
        "flags": flags_text,
        "minutes": round(minutes, 1),
        "num_images": pooled["num_images"],
        "pooled": {},
        "per_set": {},
    }

    def figures(summary):
        m = summary["metrics"][name]
        d = summary["differences"][f"{name} - grey"]
        out = {
            "auc_minus_grey": d["auc"],
            "rebalanced_auc_minus_grey": d["rebalanced_auc"],
            "colorfulness_ratio": m["colorfulness_ratio"],
            "sepia_share": m["sepia_share"],
            "blotch": m.get("blotch"),
            "bleeding": m.get("bleeding"),
            "top1": summary["class"][name].get("top1_accuracy"),
        }
        if reference:
            key = f"{name} - {reference}"
            out["minus_reference"] = summary["differences"][key]
            out["minus_reference_interval"] = summary["interval"]["differences"][key]
        return out

    row["pooled"] = figures(pooled)
    for set_name, summary in result["per_set"].items():
        row["per_set"][set_name] = figures(summary)
    return row


def variant_flags(row):
    """What sets the variant apart from the base run: its seed, training data and budget when
    they differ, then its train_main flags, and its reference when that is not the base run."""
    parts = []
    if row.get("seed", 0):
        parts.append(f"--seed={row['seed']}")
    if row.get("steps", DEFAULT_STEPS) != DEFAULT_STEPS:
        parts.append(f"--steps={row['steps']}")
    if row.get("train_dataset", TRAIN_SET) != TRAIN_SET:
        parts.append(f"--dataset={row['train_dataset']}")
    if row["flags"]:
        parts.append(row["flags"])
    if row.get("reference") not in (None, "", "base"):
        parts.append(f"(against {row['reference']})")
    return " ".join(parts)


def markdown_row(row):
    p = row["pooled"]
    versus = "—", "—", "—"
    if "minus_reference" in p:
        d, iv = p["minus_reference"], p["minus_reference_interval"]
        versus = tuple(
            _interval(d[k], iv[k]) if k in d else "—"
            for k in ("rebalanced_auc", "sepia_share", "blotch")
        )
    top1 = "—" if p["top1"] is None else f"{p['top1']:.1f} %"
    edges = ["—" if p.get(k) is None else f"{p[k]:.2f}" for k in ("blotch", "bleeding")]
    return (
        f"| {row['variant']} | `{variant_flags(row) or '(base)'}` | {row['minutes']:.0f} | "
        f"{p['auc_minus_grey']:+.2f} | {p['rebalanced_auc_minus_grey']:+.2f} | "
        f"{100 * p['colorfulness_ratio']:.0f} % | {p['sepia_share']:.1f} % | {edges[0]} | "
        f"{edges[1]} | {top1} | {versus[0]} | {versus[1]} | {versus[2]} |"
    )


def source_table(rows):
    """Lines of a Markdown table: per source, each variant's paired difference from its
    reference, "rebalanced AuC / brown-cast share" (points). Variants without a reference
    are left out; None when no variant has one."""
    paired = [r for r in rows if "minus_reference" in r["pooled"]]
    if not paired:
        return None
    sets = list(paired[0]["per_set"])
    lines = [
        "| source | " + " | ".join(r["variant"] for r in paired) + " |",
        "|---|" + "---|" * len(paired),
    ]
    for set_name in [*sets, None]:
        cells = []
        for r in paired:
            figures = r["pooled"] if set_name is None else r["per_set"].get(set_name)
            if not figures or "minus_reference" not in figures:
                cells.append("—")
                continue
            d = figures["minus_reference"]
            cells.append(f"{d['rebalanced_auc']:+.2f} / {d['sepia_share']:+.1f}")
        label = "**pooled**" if set_name is None else set_name.split(":", 1)[-1]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _replace_between(text, start, end, lines):
    block = "\n".join([start, *lines, end])
    if start in text and end in text:
        return text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def update_table(path, rows):
    """Rewrites the screening table of the Markdown file at `path` from `rows`, and the
    per-source table of differences from the reference (when a variant has one)."""
    text = open(path).read() if os.path.exists(path) else ""
    text = _replace_between(
        text, TABLE_START, TABLE_END, [*HEADER, *(markdown_row(r) for r in rows)]
    )
    sources_lines = source_table(rows)
    if sources_lines:
        text = _replace_between(text, SOURCES_START, SOURCES_END, sources_lines)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
