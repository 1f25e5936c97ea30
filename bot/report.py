"""Render results for people: `--explain` of one reply, and the `bot eval` tables."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from typing import Any

from bot.model import Reply, Severity
from bot.problems import Problem

ACTION_ZH = {"answer": "回答", "clarify": "追问", "handoff": "转人工", "human": "人工处理中"}
FORMS = {
    "ellipsis": "省略问（那…呢 / 还有…吗）",
    "question": "只问疑问词（多久 / 谁出 / 怎么弄）",
    "value": "只给了上一轮话题要的值（尺码 / 颜色 / 地区）",
    "not_helpful": "还是不行 / 没用",
}


def reply_dict(reply: Reply) -> dict[str, Any]:
    data: dict[str, Any] = {f.name: getattr(reply, f.name) for f in fields(reply)}
    data["action"] = reply.action.value
    data["reason"] = reply.reason.value if reply.reason else None
    data["slots"] = dict(reply.slots)
    data["candidates"] = [asdict(c) for c in reply.candidates]
    data["options"] = [asdict(o) for o in reply.options]
    data["follow_up"] = asdict(reply.follow_up) if reply.follow_up else None
    data["tokens"] = list(reply.tokens)
    data["evidence"] = [
        {
            "kind": e.kind,
            "detail": e.detail,
            "weight": e.weight,
            "origin": str(e.origin) if e.origin else None,
        }
        for e in reply.evidence
    ]
    return data


def reply_json(reply: Reply) -> str:
    return json.dumps(reply_dict(reply), ensure_ascii=False, indent=2)


def explain(reply: Reply, title: Callable[[str, str | None], str]) -> str:
    """Why the bot replied as it did, for a shop owner: tokens, candidates, evidence with file:line."""
    lines = [
        f"  归一化 (normalised): {reply.normalized}",
        f"  分词 (tokens): {' / '.join(reply.tokens)}",
        f"  决定 (action): {ACTION_ZH[reply.action.value]} {reply.action.value}"
        + (f"，原因 {reply.reason.value}" if reply.reason else "")
        + f"，把握 (confidence) {reply.confidence:.2f}",
    ]
    if reply.topic is not None and reply.intent is not None:
        lines.append(f"  知识点 (topic): {reply.topic}「{title(reply.intent, reply.topic)}」")
    for part in reply.parts:
        read = f"{part.topic or part.intent or '-'} {part.confidence:.2f} {ACTION_ZH[part.action.value]}"
        lines.append(f"  分句 (part): 「{part.text}」→ {read}")
    if reply.follow_up is not None:
        f = reply.follow_up
        lines.append(
            f"  接话 (follow-up): 接着上一轮的「{f.previous}」，形式 {FORMS.get(f.form, f.form)}，"
            f"依据的词 {' / '.join(f.words) or '-'}；由 config.yaml 的 {f.setting} 控制"
        )
    if reply.kind != "text":
        lines.append(f"  消息种类 (kind): {reply.kind}")
    if reply.options:
        lines.append(
            "  选项 (options): "
            + "，".join(f"{i}. {o.title}（{o.topic or o.intent}）" for i, o in enumerate(reply.options, 1))
        )
    if reply.slots:
        lines.append("  记住的信息 (slots): " + "，".join(f"{k}={v}" for k, v in sorted(reply.slots.items())))
    if reply.candidates:
        lines.append("  候选意图 (candidates):")
        lines += [
            f"    {c.intent_id:<15} {title(c.intent_id, None):<6} {c.score:.2f}"
            + (f"  知识点 {c.topic}「{title(c.intent_id, c.topic)}」" if c.topic else "")
            for c in reply.candidates
        ]
    else:
        lines.append("  候选意图 (candidates): 无 —— 没有意图有足够的证据 (no intent has evidence)")
    if reply.evidence:
        lines.append(f"  依据 (evidence for {reply.intent or '-'}; negative weight = veto):")
        names = {
            "keyword": "关键词",
            "pattern": "正则",
            "negative": "否定词",
            "example": "最像的问法",
            "counter_example": "反例",
            "answer_rule": "条件回复",
            "follow_up": "接话",
            "choice": "选项",
            "slot": "回答了问题",
            "concept": "同义词",
            "sound": "同音字",
        }
        for e in reply.evidence:
            where = f"  ({e.origin})" if e.origin else ""
            weight = "" if e.kind in ("concept", "sound") else f" {e.weight:+.2f}"
            lines.append(f"    {names.get(e.kind, e.kind)} {e.detail!r}{weight}{where}")
    return "\n".join(lines)


def problems_text(problems: Sequence[Problem]) -> str:
    """Problems for a person: each with where, what and the fix; then a count."""
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    if not problems:
        return "没有发现问题 (no problems found)"
    body = "\n".join(p.render() for p in problems)
    return f"{body}\n\n{errors} 个错误，{warnings} 个警告 ({errors} errors, {warnings} warnings)"


def problems_github(problems: Sequence[Problem]) -> str:
    """GitHub Actions annotations: one line per problem, shown on the changed lines of a pull request."""
    lines = []
    for p in problems:
        kind = "error" if p.severity is Severity.ERROR else "warning"
        where = f"file={p.origin.file},line={max(p.origin.line, 1)},col={max(p.origin.column, 1)}"
        text = f"[{p.code}] {p.message_zh} 改法：{p.fix_zh} ({p.message_en})".replace("\n", " ")
        lines.append(f"::{kind} {where}::{text}")
    return "\n".join(lines)


def problems_json(problems: Sequence[Problem]) -> str:
    return json.dumps(
        [
            {"code": p.code, "severity": p.severity.value, "file": p.origin.file, "line": p.origin.line,
             "column": p.origin.column, "message_zh": p.message_zh, "fix_zh": p.fix_zh,
             "message_en": p.message_en, "fix_en": p.fix_en}
            for p in problems
        ],
        ensure_ascii=False,
        indent=2,
    )  # fmt: skip


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
