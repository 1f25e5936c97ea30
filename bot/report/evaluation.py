"""`bot eval`'s tables: the figures, reliability by confidence, after prior turns, threshold advice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def eval_table(summary: dict[str, Any]) -> str:
    out = [
        f"消息数 messages: {summary['n']}（范围内 in scope: {summary['in_scope']}）",
        f"解决 resolved (of in-scope): {summary['resolved']:.1%}    答错 wrong (of all): {summary['wrong']:.1%}    "
        f"转交/追问 deferred (of all): {summary['deferred']:.1%}    "
        f"追问选项里有对的 clarified_right: {summary['clarified_right']:.1%}",
        "",
        f"{'intent':<16}{'n':>5}{'resolved':>10}{'wrong':>8}{'deferred':>10}",
    ]
    for intent, row in summary["per_intent"].items():
        out.append(
            f"{intent:<16}{row['n']:>5}{row['resolved']:>10.0%}{row['wrong']:>8.0%}{row['deferred']:>10.0%}"
        )
    if summary["confusions"]:
        out += ["", "最常见的答错 (most frequent confusions: label → answered):"]
        out += [f"  {c['label']:<16}→ {c['answered']:<16}{c['n']:>4}" for c in summary["confusions"]]
    out += ["", "可靠性 (reliability: answers per confidence band, and how many were right):"]
    out += reliability_rows(summary["reliability"])
    if summary.get("per_topic"):
        out += ["", f"知识点 (topics: of resolved answers with a labelled topic, {summary['topic_right']:.1%} "
                    f"answered that topic; n={summary['topic_labelled']}):"]  # fmt: skip
        out.append(f"  {'topic':<32}{'n':>5}{'resolved':>10}{'topic_right':>13}")
        for topic, row in summary["per_topic"].items():
            out.append(f"  {topic:<32}{row['n']:>5}{row['resolved']:>10.0%}{row['topic_right']:>13.0%}")
    halves = summary.get("halves")
    if halves:
        out += ["", "两半 (halves, split by a hash of the text; learn from the first only):"]
        for name, row in halves.items():
            out.append(f"  {name:<8}{_figures_line(row)}")
    return "\n".join(out)


def reliability_rows(reliability: dict[str, Any]) -> list[str]:
    out = [f"  {'band':<12}{'answers':>8}{'right':>7}{'precision':>11}"]
    rows = [(band, row) for band, row in reliability.items() if band != "follow_up"]
    for band, row in rows:
        if row["n"]:
            out.append(f"  {band:<12}{row['n']:>8}{row['right']:>7}{row['right'] / row['n']:>11.0%}")
    follow = reliability.get("follow_up")
    if follow and follow["n"]:
        out.append(
            f"  {'接话 follow-up':<12}{follow['n']:>6}{follow['right']:>7}{follow['right'] / follow['n']:>11.0%}"
            f"   (平均把握 mean confidence {follow['mean_confidence']:.2f})"
        )
    total_n = total_right = 0
    out += ["", "  answers at confidence ≥ x (must be right at least x of the time):"]
    for band, row in reversed(rows):
        total_n += row["n"]
        total_right += row["right"]
        low = float(band.split("-")[0])
        if total_n and low > 0:
            out.append(f"    ≥ {low:.2f}: {total_n:>5} answers, {total_right / total_n:.0%} right")
    return out


def _figures_line(row: dict[str, Any]) -> str:
    return (
        f"resolved {row['resolved']:.1%}  wrong {row['wrong']:.1%}  deferred {row['deferred']:.1%}"
        f"  clarified_right {row['clarified_right']:.1%}  resolved_or_offered {row['resolved_or_offered']:.1%}"
        + (f"  topic_right {row['topic_right']:.1%}" if row.get("topic_labelled") else "")
        + f"  (n={row['n']})"
    )


def after_table(after: dict[str, Any]) -> str:
    """`bot eval --after…`: the figures after each preceding question, and over all of them."""
    out = ["", "在对话中 (in conversation: each message right after the question on the left):"]
    for first, row in after["per_question"].items():
        out.append(f"  {first:<14}{_figures_line(row)}")
    out.append(f"  {'全部 overall':<14}{_figures_line(after['overall'])}")
    out += ["", "  可靠性 (reliability in conversation):"]
    out += ["  " + line for line in reliability_rows(after["reliability"])]
    return "\n".join(out)


def threshold_advice(advice: Sequence[Any], target: float) -> str:
    """`bot eval --target-wrong`: the best settings and what each would have done, then the lines for config.yaml."""
    out = [
        f"阈值建议 (thresholds that keep wrong answers ≤ {target:.1%}, single messages and in conversation):",
        f"    {'answer_at':>9} {'handoff_below':>13}   {'single: resolved / wrong / clarified / handed off':<52}"
        "in conversation: the same",
    ]
    for a in advice[:8]:
        mark = "✓" if a.meets else "✗"
        out.append(
            f"  {mark} {a.answer_at:>9.2f} {a.handoff_below:>13.2f}   {_advice_figures(a.single):<52}"
            f"{_advice_figures(a.conversation)}"
        )
    best = advice[0] if advice and advice[0].meets else None
    if best is None:
        out += [
            "",
            f"没有一组阈值能把答错率压到 {target:.1%} 以下；请先补充问法 (no setting of the grid reaches the target).",
        ]
        return "\n".join(out)
    out += [
        "",
        "写进 config.yaml (put in config.yaml):",
        "thresholds:",
        f"  answer_at: {best.answer_at}",
        f"  handoff_below: {best.handoff_below}",
    ]
    return "\n".join(out)


def _advice_figures(row: Any) -> str:
    return f"{row['resolved']:.1%} / {row['wrong']:.1%} / {row['clarified']:.1%} / {row['handed_off']:.1%}"


def keyword_table(rows: Sequence[Any], shown: int = 40) -> str:
    """`bot eval --keywords`: the keywords that point at their intent less often than their weight says."""
    misleading = [r for r in rows if r.misleads]
    out = [
        f"误导的关键词 (keywords right less often than their weight claims; {len(misleading)} of {len(rows)}):",
        f"  {'intent':<15}{'keyword':<22}{'weight':>7}{'right':>9}{'precision':>10}  {'suggested':>9}  labels, where",
    ]
    for r in misleading[:shown]:
        labels = ", ".join(f"{label} {n}" for label, n in r.labels)
        out.append(
            f"  {r.intent:<15}{r.word[:20]:<22}{r.weight:>7.2f}{f'{r.right}/{r.seen}':>9}{r.precision:>10.0%}  {r.suggested:>9.2f}"
            f"  {labels}  {r.origin.file}:{r.origin.line}"
        )
    if not misleading:
        out.append(
            "  没有 (none): every keyword seen often enough is right about as often as its weight says."
        )
    else:
        out += [
            "",
            "把权重改成 suggested，或者给别的意图补上更具体的关键词 (lower the weight, or add a more specific keyword elsewhere).",
        ]
    return "\n".join(out)
