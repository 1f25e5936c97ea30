"""Render results for people: `--explain` of one reply, and the `bot eval` tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bot.model import Reply

ACTION_ZH = {"answer": "回答", "clarify": "追问", "handoff": "转人工"}


def reply_dict(reply: Reply) -> dict[str, Any]:
    data = asdict(reply)
    data["action"] = reply.action.value
    data["reason"] = reply.reason.value if reply.reason else None
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


def explain(reply: Reply, title: Callable[[str], str]) -> str:
    """Why the bot replied as it did, for a shop owner: tokens, candidates, evidence with file:line."""
    lines = [
        f"  归一化 (normalised): {reply.normalized}",
        f"  分词 (tokens): {' / '.join(reply.tokens)}",
        f"  决定 (action): {ACTION_ZH[reply.action.value]} {reply.action.value}"
        + (f"，原因 {reply.reason.value}" if reply.reason else "")
        + f"，把握 (confidence) {reply.confidence:.2f}",
    ]
    if reply.candidates:
        lines.append("  候选意图 (candidates):")
        lines += [f"    {c.intent_id:<15} {title(c.intent_id):<6} {c.score:.2f}" for c in reply.candidates]
    else:
        lines.append("  候选意图 (candidates): 无 —— 没有任何关键词或问法匹配")
    if reply.evidence:
        lines.append(f"  依据 (evidence for {reply.intent}):")
        names = {"keyword": "关键词", "pattern": "正则", "negative": "否定词", "example": "最像的问法"}
        for e in reply.evidence:
            where = f"  ({e.origin})" if e.origin else ""
            lines.append(f"    {names.get(e.kind, e.kind)} {e.detail!r} {e.weight:+.2f}{where}")
    return "\n".join(lines)


def eval_table(summary: dict[str, Any]) -> str:
    out = [
        f"消息数 messages: {summary['n']}（范围内 in scope: {summary['in_scope']}）",
        f"解决 resolved (of in-scope): {summary['resolved']:.1%}    答错 wrong (of all): {summary['wrong']:.1%}    "
        f"转交/追问 deferred (of all): {summary['deferred']:.1%}",
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
    out.append(f"  {'band':<12}{'answers':>8}{'right':>7}{'precision':>11}")
    total_n = total_right = 0
    rows = list(summary["reliability"].items())
    for band, row in rows:
        if row["n"]:
            out.append(f"  {band:<12}{row['n']:>8}{row['right']:>7}{row['right'] / row['n']:>11.0%}")
    out += ["", "  answers at confidence ≥ x (must be right at least x of the time):"]
    for band, row in reversed(rows):
        total_n += row["n"]
        total_right += row["right"]
        low = float(band.split("-")[0])
        if total_n and low > 0:
            out.append(f"    ≥ {low:.2f}: {total_n:>5} answers, {total_right / total_n:.0%} right")
    return "\n".join(out)
