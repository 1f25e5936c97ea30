"""One reply for people and programs: its JSON form and `--explain` (why it was given, with file:line)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from bot.model import Reply

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
