"""What an evaluation shows: the crop protocol's self-contained HTML report and the full
protocol's Markdown tables (every model against grey, and the paired differences)."""

import base64
import html
import json

from colorization.evaluation.metrics import GREY


def _png_data_uri(image):
    import tensorflow as tf

    return "data:image/png;base64," + base64.b64encode(tf.io.encode_png(image).numpy()).decode()


def write_report(path, result, names, settings):
    """A self-contained HTML page: summary table, per-class table, per-image rows."""
    m = result["metrics"]
    keys = ("auc", "rebalanced_auc", "psnr", "ssim", "colorfulness", "delta_colorfulness")
    parts = [
        "<!doctype html><meta charset=utf-8><title>Colorization report</title>",
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}"
        "img{image-rendering:auto}</style>",
        f"<h1>Colorization report</h1><p>{html.escape(json.dumps(settings))}</p>",
        "<h2>Metrics</h2><table><tr><th>method</th>"
        + "".join(f"<th>{k}</th>" for k in keys)
        + "</tr>",
    ]
    for name in names:
        parts.append(
            f"<tr><td>{name}</td>" + "".join(f"<td>{m[name][k]:.3f}</td>" for k in keys) + "</tr>"
        )
    parts.append(
        f"</table><p>ground-truth colourfulness {m[names[0]]['true_colorfulness']:.2f}</p>"
    )
    if result.get("per_class"):
        parts.append("<h2>Per class (dominant label)</h2><table><tr><th>class</th><th>images</th>")
        parts.append("".join(f"<th>{n} AuC</th><th>{n} PSNR</th>" for n in names) + "</tr>")
        for cls, row in result["per_class"].items():
            cells = "".join(
                f"<td>{row[n]['auc']:.2f}</td><td>{row[n]['psnr']:.2f}</td>" for n in names
            )
            parts.append(f"<tr><td>{cls}</td><td>{row['count']}</td>{cells}</tr>")
        parts.append("</table>")
    parts.append(
        "<h2>Images</h2><table><tr><th>#</th>"
        + "".join(f"<th>{n}</th>" for n in names)
        + "<th>truth</th></tr>"
    )
    images = result["images"]
    for i, record in enumerate(result["records"][: len(images["truth"])]):
        cells = "".join(
            f"<td><img src='{_png_data_uri(images[n][i])}'><br>PSNR {record[n]['psnr']:.2f} "
            f"AuC {record[n]['auc']:.1f} CF {record[n]['colorfulness']:.1f}</td>"
            for n in names
        )
        parts.append(
            f"<tr><td>{i}</td>{cells}<td><img src='{_png_data_uri(images['truth'][i])}'>"
            f"<br>CF {record['true_colorfulness']:.1f}</td></tr>"
        )
    parts.append("</table>")
    with open(path, "w") as f:
        f.write("\n".join(parts))


def _interval_text(value, interval, signed=True):
    fmt = "{:+.2f}" if signed else "{:.2f}"
    return f"{fmt.format(value)} [{fmt.format(interval[0])}, {fmt.format(interval[1])}]"


def format_full_table(summaries, names):
    """Markdown lines: per set and method, each model minus grey and its figures."""
    lines = [
        "| set | method | photos | AuC − grey [95% CI] | rebalanced AuC − grey [95% CI] | "
        "colourfulness (% of truth) | sepia share | blotch (ab) | bleeding (ab) | class top-1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for set_name, summary in summaries.items():
        for name in names:
            m = summary["metrics"][name]
            row = f"| {set_name} | {name} | {summary['num_images']} | "
            if name == GREY:
                row += f"{m['auc']:.2f} (AuC) | {m['rebalanced_auc']:.2f} (rebalanced) | "
            else:
                key = f"{name} - {GREY}"
                d, iv = summary["differences"][key], summary["interval"]["differences"][key]
                row += (
                    f"{_interval_text(d['auc'], iv['auc'])} | "
                    f"{_interval_text(d['rebalanced_auc'], iv['rebalanced_auc'])} | "
                )
            cls = summary.get("class", {}).get(name, {})
            top1 = (
                f"{cls['top1_accuracy']:.1f}% of {cls['num_labelled']} (majority "
                f"{cls['majority_class_accuracy']:.1f}%)"
                if cls.get("num_labelled")
                else "–"
            )
            row += (
                f"{100 * m['colorfulness_ratio']:.0f}% | {m['sepia_share']:.1f}% | "
                f"{m['blotch']:.2f} | {m['bleeding']:.2f} | {top1} |"
            )
            lines.append(row)
    return lines


def format_pair_table(summaries, pairs):
    """Markdown lines: the paired differences first - second per set."""
    lines = [
        "| set | difference | AuC [95% CI] | rebalanced AuC [95% CI] | PSNR dB [95% CI] | "
        "colourfulness ratio [95% CI] | sepia share [95% CI] | blotch [95% CI] | "
        "bleeding [95% CI] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for set_name, summary in summaries.items():
        for first, second in pairs:
            key = f"{first} - {second}"
            d, iv = summary["differences"][key], summary["interval"]["differences"][key]
            lines.append(
                f"| {set_name} | {key} | {_interval_text(d['auc'], iv['auc'])} | "
                f"{_interval_text(d['rebalanced_auc'], iv['rebalanced_auc'])} | "
                f"{_interval_text(d['psnr'], iv['psnr'])} | "
                f"{_interval_text(100 * d['colorfulness_ratio'], [100 * v for v in iv['colorfulness_ratio']])} | "
                f"{_interval_text(d['sepia_share'], iv['sepia_share'])} | "
                f"{_interval_text(d['blotch'], iv['blotch'])} | "
                f"{_interval_text(d['bleeding'], iv['bleeding'])} |"
            )
    return lines
